"""Range checks of numeric options, shared by the command line and the PyMOL commands.

One table, :data:`KINDS`, says what each kind of number may be; :func:`check_option`
applies it and is the only place an option value is range-checked, so the command line
(``type=`` of its arguments, :func:`argument_type`) and PyMOL (``threshold``,
``min_sep``, ``num_seqs``) refuse a value with the same words::

    --threshold must be a probability in [0, 1], got 'nan'      (esm-contacts validate)
    threshold must be a probability in [0, 1], got 'nan'        (PyMOL esm_contacts_check)
"""

import math
from typing import Callable, Dict, NamedTuple, Optional, Union

import numpy as np

from .messages import quote_input

__all__ = [
    "KINDS",
    "Kind",
    "OptionError",
    "check_option",
    "argument_type",
    "InvalidOption",
    "first_invalid",
    "whole_number",
]

#: The largest seed numpy's and scikit-learn's generators accept.
MAX_SEED = 2**32 - 1


class OptionError(ValueError):
    """An option value outside its range; the message names the option and the value."""


class Kind(NamedTuple):
    """What a kind of option value may be: parsed by ``parse``, accepted when ``accept`` is true.

    Attributes
    ----------
    parse : callable
        Text to number (``float`` or ``int``); raises ValueError for text that is no number.
    accept : callable
        Number to bool: whether the number is in range.
    description : str
        The range in words, ending the message (``"a probability in [0, 1]"``).
    """

    parse: Callable[[str], Union[int, float]]
    accept: Callable[[Union[int, float]], bool]
    description: str


def _integer(text: str) -> int:
    # int("1.0") fails, as it should: a count of 1.5 is no count.
    return int(text)


KINDS: Dict[str, Kind] = {
    "probability": Kind(
        float, lambda v: math.isfinite(v) and 0.0 <= v <= 1.0, "a probability in [0, 1]"
    ),
    "positive": Kind(float, lambda v: math.isfinite(v) and v > 0.0, "a positive finite number"),
    "non-negative": Kind(float, lambda v: math.isfinite(v) and v >= 0.0, "a finite number >= 0"),
    "fraction": Kind(float, lambda v: math.isfinite(v) and 0.0 <= v < 1.0, "in [0, 1)"),
    "count": Kind(_integer, lambda v: v >= 1, "at least 1 (a whole number)"),
    "seed": Kind(_integer, lambda v: 0 <= v <= MAX_SEED, f"a whole number in 0..{MAX_SEED}"),
}


def check_option(kind: str, name: str, value) -> Union[int, float]:
    """The value of option ``name`` once it is of ``kind``; :class:`OptionError` otherwise.

    Parameters
    ----------
    kind : str
        A key of :data:`KINDS`: ``probability`` (finite, in [0, 1]), ``positive``
        (finite, > 0), ``non-negative`` (finite, >= 0), ``fraction`` (finite, in [0, 1)), ``count``
        (integer >= 1) or
        ``seed`` (integer in 0..2^32 - 1).
    name : str
        The option as the user typed it (``--threshold`` on the command line,
        ``threshold`` in PyMOL); it starts the message.
    value : str or int or float
        The value given (text from the command line or PyMOL, or a number).

    Returns
    -------
    value : int or float
        Parsed: int for ``count`` and ``seed``, float otherwise.

    Raises
    ------
    OptionError
        ``"{name} must be {description}, got {value!r}"``, the value cut to 80 characters.

    Examples
    --------
    >>> check_option("probability", "--threshold", " 0.3"), check_option("count", "num_seqs", "64")
    (0.3, 64)
    >>> check_option("probability", "--threshold", "nan")
    Traceback (most recent call last):
    ...
    esm_contacts.options.OptionError: --threshold must be a probability in [0, 1], got 'nan'
    """
    rule = KINDS[kind]
    try:
        if isinstance(value, bool):
            raise ValueError
        parsed = rule.parse(str(value).strip())
        accepted = rule.accept(parsed)
    except (ValueError, OverflowError):
        accepted = False
    if not accepted:
        raise OptionError(f"{name} must be {rule.description}, got {quote_input(value)}")
    return parsed


class InvalidOption:
    """An option value that failed its check, kept until the command can report it on one line.

    argparse would print its usage text and the message; the CLI instead finds these in
    the parsed arguments and reports ``esm-contacts CMD: error: MESSAGE`` (exit 2).

    Parameters
    ----------
    message : str
        The one-line message, as :class:`OptionError` words it.
    """

    def __init__(self, message: str):
        self.message = message

    def __repr__(self) -> str:
        return f"InvalidOption({self.message!r})"


def argument_type(kind: str, name: str) -> Callable[[str], object]:
    """An argparse ``type=`` for option ``name`` of ``kind``.

    It returns the parsed value, or an :class:`InvalidOption` holding the message of
    :func:`check_option` (see :func:`first_invalid`).

    Parameters
    ----------
    kind : str
        A key of :data:`KINDS`.
    name : str
        The option as typed (``--threshold``), starting the message.

    Returns
    -------
    parse : callable
        Text to the parsed int or float, or to an :class:`InvalidOption`; named after `kind`
        (argparse shows the name in its own messages).

    Examples
    --------
    >>> parse = argument_type("count", "--num-seqs")
    >>> parse("5")
    5
    >>> parse("0")
    InvalidOption("--num-seqs must be at least 1 (a whole number), got '0'")
    """

    def parse(text: str):
        try:
            return check_option(kind, name, text)
        except OptionError as error:
            return InvalidOption(str(error))

    parse.__name__ = kind
    return parse


def first_invalid(namespace) -> Union[str, None]:
    """The message of the first option of a parsed namespace that failed its check, or None.

    Parameters
    ----------
    namespace : argparse.Namespace
        What ``parse_args`` returned, with options parsed by :func:`argument_type`.

    Returns
    -------
    message : str or None
        The :class:`InvalidOption` message of the first failed option in the namespace's
        order, or None when all passed.
    """
    for value in vars(namespace).values():
        if isinstance(value, InvalidOption):
            return value.message
    return None


def whole_number(
    value, name: str, minimum: int = 1, maximum: Optional[int] = None, note: str = ""
) -> int:
    """`value` as an int once it is a whole number (not a bool) in [minimum, maximum].

    The check of integer arguments of the Python API (``max_length``, ``num_seqs``...),
    which, unlike :func:`check_option` (text from the command line or PyMOL), refuses a
    value of the wrong type with a TypeError.

    Parameters
    ----------
    value : int
        The argument given (a Python or numpy integer).
    name : str
        The argument's name, starting the messages.
    minimum : int
        Smallest accepted value, inclusive.
    maximum : int, optional
        Largest accepted value, inclusive; None: no bound.
    note : str
        Text appended to the out-of-range message (a hint).

    Returns
    -------
    value : int
        `value` as a Python int.

    Raises
    ------
    TypeError
        Not an integer (a float, a string...).
    ValueError
        Out of range.

    Examples
    --------
    >>> whole_number(5, "max_length")
    5
    >>> whole_number(0, "max_length")
    Traceback (most recent call last):
    ...
    ValueError: max_length must be at least 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a whole number, not {type(value).__name__} {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ValueError(f"{name} must be {bound}, got {value}{note}")
    return int(value)
