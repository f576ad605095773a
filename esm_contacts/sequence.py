"""Protein sequences as the models read them: one rule for which letters are accepted.

Every path that takes a sequence (prediction, training, batch runs, sequence matching
against a structure) cleans it here, so a sequence means the same everywhere.
"""

from typing import Optional

__all__ = ["ALPHABET_LETTERS", "clean_sequence"]

#: Letters every ESM sequence model accepts: 20 standard residues, X, B, Z, U, O.
ALPHABET_LETTERS = frozenset("ACDEFGHIKLMNPQRSTVWYXBZUO")


def clean_sequence(sequence: str, name: Optional[str] = None) -> str:
    """Validate and normalise a protein sequence.

    Lowercase letters are accepted, whitespace anywhere and a trailing ``*`` (stop) are
    ignored.

    Parameters
    ----------
    sequence : str
        One-letter amino-acid sequence.
    name : str, optional
        Record name to put in error messages.

    Returns
    -------
    sequence : str
        Upper-case letters only.

    Raises
    ------
    TypeError
        `sequence` is not a str.
    ValueError
        Empty sequence, or a character outside the model alphabet (the message gives
        its 1-based position in the input and the character).

    Examples
    --------
    >>> clean_sequence("mkt av*")
    'MKTAV'
    >>> clean_sequence("MK1", name="query")
    Traceback (most recent call last):
    ...
    ValueError: invalid character '1' at position 3 of the sequence of query; allowed: ...
    """
    where = f" of {name}" if name else ""
    if not isinstance(sequence, str):
        raise TypeError(
            f"{name or 'the sequence'} must be a str of one-letter codes, not"
            f" {type(sequence).__name__}"
        )
    text = sequence.rstrip()
    if text.endswith("*"):
        text = text[:-1]
    letters = []
    for position, char in enumerate(text, start=1):
        if char.isspace():
            continue
        upper = char.upper()
        if upper not in ALPHABET_LETTERS:
            raise ValueError(
                f"invalid character {char!r} at position {position} of the sequence{where}; "
                "allowed: the 20 standard amino acids and X, B, Z, U, O"
            )
        letters.append(upper)
    if not letters:
        raise ValueError(f"empty sequence{where}")
    return "".join(letters)
