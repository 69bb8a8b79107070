"""Text fields take text (SPEC §6.1: "a number where text is expected" is a 400).

DRF's `CharField` turns a JSON number into its digits (`"title": 12.5` becomes "12.5"), so a
client's type error is stored as data. `install_strict_text()` makes every `CharField` (and its
subclasses: email, slug, regex, URL fields), in every serializer of the project, refuse a value
that is not a string with the field's own `invalid` error ("Not a valid string."), naming the
field like any other validation error. It is installed once, from `config.apps.TallyConfig`,
so no serializer has to remember a base class.
"""

from rest_framework.fields import CharField


def install_strict_text() -> None:
    lenient = CharField.to_internal_value
    if getattr(lenient, "strict_text", False):
        return

    def to_internal_value(self: CharField, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return lenient(self, data)

    to_internal_value.strict_text = True  # type: ignore[attr-defined]
    # Patching the method is the point; `self` is a CharField, narrower than the stubs' Field.
    CharField.to_internal_value = to_internal_value  # type: ignore[method-assign, assignment]
