"""StreamMasker: a whole-value filter made safe on text that arrives in pieces."""

from __future__ import annotations

import re

import pytest

from graphton.sandbox.masking import DEFAULT_MAX_MATCH_LENGTH, StreamMasker, max_match_length


class Redactor:
    """Like the runner's: replaces each secret with ***, longest first."""

    def __init__(self, *secrets: str) -> None:
        ordered = sorted(secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(s) for s in ordered))
        self.max_match_length = max(len(s) for s in secrets)

    def __call__(self, text: str) -> str:
        return self._pattern.sub("***", text)


class TailAwareRedactor(Redactor):
    """A redactor that also says how much of a text's end could start a secret."""

    def __init__(self, *secrets: str) -> None:
        super().__init__(*secrets)
        self._secrets = secrets

    def unfinished_tail(self, text: str) -> int:
        for size in range(min(self.max_match_length - 1, len(text)), 0, -1):
            if any(len(s) > size and s.startswith(text[-size:]) for s in self._secrets):
                return size
        return 0


REDACTORS = [Redactor, TailAwareRedactor]


def stream(masker: StreamMasker, pieces: list[str]) -> tuple[str, list[str]]:
    emitted = [masker.feed(piece) for piece in pieces]
    emitted.append(masker.flush())
    return "".join(emitted), emitted


TEXT = "start s3cr3t-value mid s3cr3t-value s3cr3t-values end tok-tok-tok"


@pytest.mark.parametrize("kind", REDACTORS)
@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 11, 13, len(TEXT)])
def test_every_split_gives_what_the_filter_gives_on_the_whole(
    size: int, kind: type[Redactor]
) -> None:
    redact = kind("s3cr3t-value", "tok-tok")
    pieces = [TEXT[i : i + size] for i in range(0, len(TEXT), size)]
    whole, emitted = stream(StreamMasker(redact), pieces)
    assert whole == redact(TEXT)
    assert all("s3cr" not in part and "tok-t" not in part for part in emitted)


@pytest.mark.parametrize("kind", REDACTORS)
def test_a_secret_split_at_every_position_between_two_pieces_never_leaks_a_prefix(
    kind: type[Redactor],
) -> None:
    redact = kind("hunter2-hunter2")
    text = "password=hunter2-hunter2; done"
    for cut in range(1, len(text)):
        whole, emitted = stream(StreamMasker(redact), [text[:cut], text[cut:]])
        assert whole == "password=***; done"
        # nothing emitted before the end carries the start of the secret
        assert "hunt" not in emitted[0]


def test_at_most_the_longest_secret_is_held_back() -> None:
    redact = Redactor("abcdef")
    masker = StreamMasker(redact)
    assert masker.feed("x" * 100) == "x" * 95
    assert masker.pending == "x" * 5


def test_a_plain_callable_is_given_a_generous_window() -> None:
    assert max_match_length(str.upper) == DEFAULT_MAX_MATCH_LENGTH
    assert max_match_length(Redactor("abc")) == 3
    masker = StreamMasker(lambda text: text.replace("secret", "***"))
    whole, _ = stream(masker, ["a sec", "ret b"])
    assert whole == "a *** b"


def test_a_filter_that_knows_its_unfinished_tail_lets_output_flow_after_a_secret() -> None:
    """A command prints a line with a secret, then waits: the whole line shows now,
    not when more output comes; only what could start a secret waits."""
    masker = StreamMasker(TailAwareRedactor("hunter2-hunter2"))
    assert masker.feed("building\ntoken=hunter2-hunter2\n") == "building\ntoken=***\n"
    assert masker.feed("next: hunt") == "next: "
    assert masker.pending == "hunt"
    assert masker.feed("ing\n") == "hunting\n"
    bare = StreamMasker(Redactor("hunter2-hunter2"))
    assert bare.feed("building\ntoken=hunter2-hunter2\n") != "building\ntoken=***\n"
