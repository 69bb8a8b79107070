"""The plain data that activity returns: tokens, requests, costs, and how they break down."""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

from usage.pricing import Cost

if TYPE_CHECKING:
    from usage.selectors.filters import ActivityFilter


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
        """From SQL `SUM`s in the order of `SUMS_SQL` (cast to bigint: ints already)."""
        return cls(*row)

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
        return Tokens(self.input, self.output, self.cached)  # positional: ~0.25 us less each

    @property
    def requests(self) -> Requests:
        return Requests(self.succeeded, self.failed)


SHARE_PLACES = Decimal("0.0001")  # a share of 0.1234 is 12.34 %


def share_of(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    """`part / whole` as a fraction rounded to 4 places (half even); None when whole is 0."""
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(SHARE_PLACES, rounding=ROUND_HALF_EVEN)


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
    share: Decimal | None = None  # of the range's tokens (Tokens mode) or whole bill (Cost)

    @property
    def whole_bill(self) -> Cost:
        return self.cost + self.unattributed_cost


@dataclass(frozen=True)
class ProviderUsage:
    """The models of one provider over the range (their `ModelUsage` rows summed).
    `cost` is their whole bill: every priced token, on a ticket or not."""

    provider: str
    tokens: Tokens
    requests: Requests
    cost: Cost
    unpriced_tokens: Tokens
    share: Decimal | None


@dataclass(frozen=True)
class HostUsage:
    """The usage that ran on one host (`host_id` None: no host named, or since deleted).
    `cost` is its whole bill: every priced token, on a ticket or not."""

    host_id: int | None
    name: str
    tokens: Tokens
    requests: Requests
    cost: Cost
    unpriced_tokens: Tokens
    share: Decimal | None


@dataclass(frozen=True)
class ConsumerUsage:
    """An agent or user name ('' = none given), ranked by tokens (Tokens mode) or by cost
    (Cost mode). `cost` is its whole bill: every priced token, on a ticket or not."""

    consumer: str
    tokens: Tokens
    requests: Requests
    cost: Cost = Cost()
    unpriced_tokens: Tokens = Tokens()
    share: Decimal | None = None


@dataclass(frozen=True)
class TicketCost:
    """A ticket's priced usage in the range, ranked by cost (then tokens)."""

    ticket_id: int
    external_id: str
    subject: str
    tokens: Tokens
    cost: Cost
    share: Decimal | None = None


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
    Tokens mode; `by_provider`, `by_host` and `top_consumers` by whole-bill cost then
    tokens in Cost mode, by tokens in Tokens mode; `top_tickets` by cost. Each breakdown
    holds the rows asked for (10 by default); `more` names those that have more. Every
    figure is narrowed to `narrowed` (a model, consumer and/or host) when it is set.
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
    by_provider: tuple[ProviderUsage, ...]
    by_host: tuple[HostUsage, ...]
    top_consumers: tuple[ConsumerUsage, ...]
    top_tickets: tuple[TicketCost, ...]
    unpriced: tuple[UncostedUsage, ...]
    unattributed: tuple[UnattributedSpend, ...]
    narrowed: "ActivityFilter"
    more: tuple[str, ...]  # the breakdowns with more rows than were asked for

    @property
    def whole_bill(self) -> Cost:
        """Ticket-linked cost + unattributed spend: every priced token of the range."""
        return self.cost + self.unattributed_spend

    @property
    def cached_share(self) -> Decimal | None:
        return self.tokens.cached_share
