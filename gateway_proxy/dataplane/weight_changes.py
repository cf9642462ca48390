"""Whether a reload changes nothing but backend weights, decided on the compiled tables.

Why it exists (issue 13): the controller's whole job is rewriting ``backendRefs[].weight``, and
rebuilding the C route table for that costs hundreds of milliseconds at 10,000 rules. When the new
compiled table equals the installed one in everything but weights, the worker updates the weights
of the installed C table in place instead (``loop_plans.Reweighing``). This module makes that call,
in plain Python and without C, so it can be read and tested alone.

It must cost less than the rebuild it saves. The compile cache (``compiling.CompileCache``) hands
back the very same Rule and Match objects for routes whose file did not change, so most of the
comparison is identity: a rule is the same object, or a path table's buckets compare equal as
lists of the same objects (a C-level comparison). Only objects that differ are compared field by
field, and the first difference of any kind answers "rebuild". A reload that made many rules new
objects (a changed Service empties the cache) rebuilds without comparing (``ALWAYS_COMPARED``).

Fields are compared by the classes' own ``__slots__`` (both hot-path builds declare them), minus the
ones that are weights, derived from weights, or runtime state; a field added later is therefore
compared, and so rebuilds, until someone decides it may change in place.
"""

from __future__ import annotations

import itertools
import operator

# Past this many rules that are new objects (and past a quarter of the table), the reload rebuilds
# without comparing: a field-by-field comparison costs about half of what building the same rules
# in C costs, and a weight change rewrites one route, not a large part of the table (a Service
# change, which empties the compile cache, makes every rule new).
ALWAYS_COMPARED = 256

# Rule fields that may differ in place: the backends' weights and what is derived from them.
# ``backends`` is compared separately, backend by backend, without their weights.
_RULE_WEIGHTS = frozenset(("backends", "cumulative", "total", "metrics"))
# Backend fields that are not configuration: round-robin position and bound metric children.
# Mirrors are compared with their weight (the share they copy): only backendRef weights move in place.
_BACKEND_STATE = frozenset(("cursor", "metrics"))
_BACKEND_STATE_AND_WEIGHT = _BACKEND_STATE | {"weight"}
# A Match's rule is compared through the rule pairs instead.
_MATCH_RULE = frozenset(("rule",))


def weights_only(previous, current) -> tuple | None:
    """The (previous rule, current rule) pairs that are different objects, when ``current`` (a
    ``compiling.Compiled``) differs from ``previous`` in backend weights alone; None when anything
    else differs, or when there is no previous table.

    A pair's rules are equal but for weights (which may be equal too: a file re-read unchanged);
    :func:`reweighed` tells the pairs whose weights moved.
    """
    if previous is None or len(previous.rules) != len(current.rules):
        return None
    # Found in C (compress over an identity map), not by a Python loop over 10,000 rules.
    differing = list(itertools.compress(zip(previous.rules, current.rules),
                                        map(operator.is_not, previous.rules, current.rules)))
    if len(differing) > max(ALWAYS_COMPARED, len(current.rules) // 4):
        return None
    pairs = {}
    for old, new in differing:
        if not _same_rule(old, new):
            return None
        pairs[id(old)] = (old, new)
    for old_root, new_root in ((previous.table, current.table), (previous.tls_table, current.tls_table)):
        if not _same_index(old_root, new_root, pairs, _same_listener):
            return None
    return tuple(pairs.values())


def reweighed(old, new) -> bool:
    """Whether two rules equal but for weights differ in their weights (the C table's numbers)."""
    return old.cumulative != new.cumulative or any(
        a.weight != b.weight for a, b in zip(old.backends, new.backends))


_GETTERS: dict = {}  # (class, skipped names) -> a getter of the compared fields as one tuple


def _getter(cls, skip: frozenset):
    found = _GETTERS.get((cls, skip))
    if found is None:
        names = [name for name in cls.__slots__ if name not in skip]
        # attrgetter returns a tuple for two names or more; every hot-path class compares that many.
        found = _GETTERS[(cls, skip)] = operator.attrgetter(*names) if len(names) > 1 else (
            lambda obj, name=names[0]: (getattr(obj, name),))
    return found


def _same_fields(old, new, skip: frozenset) -> bool:
    if type(old) is not type(new):
        return False
    get = _getter(type(old), skip)
    a, b = get(old), get(new)
    # Tuple equality runs in C and holds for most pairs; it fails on values without an ``==`` of
    # their own (HeaderOps, mirror Backends), which are then compared field by field.
    return a == b or (len(a) == len(b) and all(x is y or _same_value(x, y) for x, y in zip(a, b)))


def _same_value(a, b) -> bool:
    """Equality for configuration values: hot-path objects (HeaderOps, mirror Backends) by their
    fields, tuples element by element, everything else (strings, numbers, frozen resources,
    compiled patterns) by ``==``."""
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple):
        return len(a) == len(b) and all(x is y or _same_value(x, y) for x, y in zip(a, b))
    if hasattr(type(a), "__slots__"):
        return _same_fields(a, b, _BACKEND_STATE)
    return a == b


def _same_rule(old, new) -> bool:
    if not _same_fields(old, new, _RULE_WEIGHTS):
        return False
    if len(old.backends) != len(new.backends):
        return False
    return all(a is b or _same_fields(a, b, _BACKEND_STATE_AND_WEIGHT)
               for a, b in zip(old.backends, new.backends))


def _same_index(old, new, pairs: dict, same_child) -> bool:
    """Two HostIndexes with the same keys whose values are the same (``same_child``)."""
    if old is new:
        return True  # a compile that reused the previous index shares what no changed route touched
    if old is None or new is None:
        return old is new
    if old.exact.keys() != new.exact.keys() or old.wildcard.keys() != new.wildcard.keys():
        return False
    for own, other in ((old.exact, new.exact), (old.wildcard, new.wildcard)):
        for key, value in own.items():
            if not same_child(value, other[key], pairs):
                return False
    if (old.default is None) != (new.default is None):
        return False
    return old.default is None or same_child(old.default, new.default, pairs)


def _same_listener(old, new, pairs: dict) -> bool:
    return _same_index(old, new, pairs, _same_paths)


def _same_paths(old, new, pairs: dict) -> bool:
    """Two PathTables holding equal matches in the same precedence order."""
    if old is new:
        return True
    # Unchanged routes put the very same Match objects in the same places: list and dict
    # equality then compare identities in C, which is most of a large table. A weight change
    # leaves one bucket of 10,000 different, so each dict is walked as few times as can be
    # (every walk of 10,000 entries costs a few hundred microseconds of a flip).
    for own, other in ((old.exact, new.exact), (old.prefix, new.prefix)):
        if own == other:
            continue
        if len(own) != len(other):
            return False
        if list(own) == list(other):
            # Same keys in the same order (a reused index copies its dicts): the keys whose
            # buckets are not the very same lists are found in C; a weight change makes one.
            keys = itertools.compress(other, map(operator.is_not, own.values(), other.values()))
        elif own.keys() == other.keys():
            keys = iter(other)
        else:
            return False
        for key in keys:
            before, bucket = own[key], other[key]
            if bucket != before and not _same_bucket(before, bucket, pairs):
                return False
    return old.regex == new.regex or _same_bucket(old.regex, new.regex, pairs)


def _same_bucket(old: list, new: list, pairs: dict) -> bool:
    if len(old) != len(new):
        return False
    for a, b in zip(old, new):
        if a is b:
            continue
        if not _same_fields(a, b, _MATCH_RULE):
            return False
        # The match must belong to the counterpart of its old rule, so that the C table's rule id
        # for the old rule is the right one for the new rule's weights.
        if a.rule is not b.rule and pairs.get(id(a.rule), (None, None))[1] is not b.rule:
            return False
    return True
