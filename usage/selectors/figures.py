"""The plain data that activity returns: tokens, requests, costs, and how they break down."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from usage.pricing import Cost


@dataclass(frozen=True)
class Tokens:
    """Token counts. `input` is uncached input; `cached` is input served from cache."""

    input: int = 0
    output: int = 0
    cached: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output + self.cached

    @property
    def cached_share(self) -> Decimal | None:
        """cached / (input + cached), in [0, 1]; None when there was no input at all."""
        denominator = self.input + self.cached
        return None if denominator == 0 else Decimal(self.cached) / Decimal(denominator)


@dataclass(frozen=True)
class Requests:
    succeeded: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.succeeded + self.failed


@dataclass(slots=True)
class Sums:
    """Running sums of tokens and requests (a rollup row, a raw event, or a total)."""

    input: int = 0
    output: int = 0
    cached: int = 0
    succeeded: int = 0
    failed: int = 0

    @classmethod
    def of_row(cls, row) -> "Sums":
        """From SQL `SUM`s in the order of `SUMS_SQL` (PostgreSQL's SUM(bigint) is a numeric)."""
        return cls(*(int(value) for value in row))

    def add(self, other: "Sums") -> None:
        self.input += other.input
        self.output += other.output
        self.cached += other.cached
        self.succeeded += other.succeeded
        self.failed += other.failed

    def values(self) -> tuple[int, int, int, int, int]:
        return (self.input, self.output, self.cached, self.succeeded, self.failed)

    @property
    def tokens(self) -> Tokens:
        return Tokens(input=self.input, output=self.output, cached=self.cached)

    @property
    def requests(self) -> Requests:
        return Requests(succeeded=self.succeeded, failed=self.failed)


@dataclass(frozen=True)
class SeriesPoint:
    """One bucket. `start`/`end` are aware, in the tenant's zone (`end` exclusive).

    `tokens`: all usage in the bucket (Tokens mode, stacked input/output/cached).
    `cost`: priced ticket-linked usage in the bucket (Cost mode, stacked by token kind).
    Both are always filled; an empty bucket has zeros.
    """

    start: datetime
    end: datetime
    tokens: Tokens
    cost: Cost
    requests: Requests


@dataclass(frozen=True)
class ModelUsage:
    """One model over the range. `tokens`/`requests` count all its usage;
    `cost` its priced ticket-linked usage; `unpriced_tokens` its ticket-linked usage
    with no plan in force; `unattributed_tokens` its usage not linked to a ticket."""

    model_id: int
    name: str
    provider: str
    tokens: Tokens
    requests: Requests
    cost: Cost
    unpriced_tokens: Tokens
    unattributed_tokens: Tokens
    unattributed_cost: Cost


@dataclass(frozen=True)
class ConsumerUsage:
    """An agent or user name ('' = none given), ranked by total tokens."""

    consumer: str
    tokens: Tokens
    requests: Requests


@dataclass(frozen=True)
class TicketCost:
    """A ticket's priced usage in the range, ranked by cost (then tokens)."""

    ticket_id: int
    external_id: str
    subject: str
    tokens: Tokens
    cost: Cost


@dataclass(frozen=True)
class UncostedUsage:
    """Usage no pricing plan prices (on a ticket or not), by model, with a sentence
    naming why and what to do, e.g. "Model gpt-x has no pricing plan: define one."
    """

    model_id: int
    name: str
    tokens: Tokens
    requests: Requests
    message: str


@dataclass(frozen=True)
class UnattributedSpend:
    """Priced usage of one model not linked to a ticket (SPEC §5.1): its exact cost is
    part of the whole bill, shown apart from the ticket-anchored cost."""

    model_id: int
    name: str
    tokens: Tokens
    requests: Requests
    cost: Cost


@dataclass(frozen=True)
class Activity:
    """LLM usage of a tenant over `[start, end)`, bucketed in the tenant's zone.

    `mode` only says which view was asked for; every figure is filled in both modes:
    Tokens mode shows `series[i].tokens`, `tokens`, `cached_share`, `requests`;
    Cost mode shows `series[i].cost` and `cost` (priced ticket-linked usage, the
    headline), `unattributed_spend` (priced usage on no ticket, by model in
    `unattributed`), `whole_bill` (the two), and the tokens no plan prices in `unpriced`
    (never as $0). `by_model` is sorted by cost then tokens in Cost mode, by tokens in
    Tokens mode; `top_consumers` by tokens (at most 10); `top_tickets` by cost (at most 10).
    """

    start: datetime
    end: datetime
    zone: str
    mode: str
    bucket: str  # "5m", "15m", "1h", "6h" or "1d"
    bucket_seconds: int
    series: tuple[SeriesPoint, ...]
    tokens: Tokens
    cost: Cost
    unattributed_spend: Cost
    requests: Requests
    by_model: tuple[ModelUsage, ...]
    top_consumers: tuple[ConsumerUsage, ...]
    top_tickets: tuple[TicketCost, ...]
    unpriced: tuple[UncostedUsage, ...]
    unattributed: tuple[UnattributedSpend, ...]

    @property
    def whole_bill(self) -> Cost:
        """Ticket-linked cost + unattributed spend: every priced token of the range."""
        return self.cost + self.unattributed_spend

    @property
    def cached_share(self) -> Decimal | None:
        return self.tokens.cached_share
