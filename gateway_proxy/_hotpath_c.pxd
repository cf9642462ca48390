# C types for the compiled build of _hotpath_py.py (this module's .py is a symlink to it).
# Keep declarations in step with the Python source: the differential test catches drift.
cimport cython

cdef class HeaderOps:
    cdef public frozenset set_names
    cdef public bytes set_lines
    cdef public frozenset add_names
    cdef public tuple add_items
    cdef public frozenset remove

cdef class Backend:
    cdef public str namespace
    cdef public str name
    cdef public int status
    cdef public tuple endpoints
    cdef public Py_ssize_t count
    cdef public Py_ssize_t cursor
    cdef public long weight
    cdef public object metrics
    cdef public object request_headers
    cdef public object response_headers
    cpdef object next_endpoint(self)

cdef class Rule:
    cdef public str namespace
    cdef public str route
    cdef public Py_ssize_t index
    cdef public tuple backends
    cdef public tuple cumulative
    cdef public long total
    cdef public object listener_port
    cdef public str scheme
    cdef public object request_headers
    cdef public object response_headers
    cdef public object redirect
    cdef public object rewrite
    cdef public tuple mirrors
    cdef public double request_timeout
    cdef public double backend_timeout
    cdef public double created
    cdef public object metrics
    cdef public object retry
    cdef public object cors
    cdef public object session

cdef class Match:
    cdef public Rule rule
    cdef public int path_kind
    cdef public str path_value
    cdef public object path_regex
    cdef public object method
    cdef public tuple header_names
    cdef public tuple header_values
    cdef public tuple header_regexes
    cdef public tuple query_names
    cdef public tuple query_values
    cdef public tuple query_regexes
    cdef public object key

cdef class PathTable:
    cdef public dict exact
    cdef public dict prefix
    cdef public list regex

cdef class HostIndex:
    cdef public dict exact
    cdef public dict wildcard
    cdef public object default

@cython.locals(end=Py_ssize_t, colon=Py_ssize_t)
cpdef str normalize_host(str host)

@cython.locals(out=list, dot=Py_ssize_t)
cpdef list host_candidates(HostIndex index, str host)

@cython.locals(params=dict, eq=Py_ssize_t, part=str)
cpdef dict parse_query(str query)

@cython.locals(out=bytearray, i=Py_ssize_t, n=Py_ssize_t)
cdef str _unquote(str text)

cdef bint _is_hex(str c)

@cython.locals(i=Py_ssize_t, names=tuple, value=object)
cpdef bint match_conditions(Match match, str method, dict headers, dict params)

@cython.locals(match=Match)
cdef object _first(list candidates, str method, dict headers, dict params)

@cython.locals(candidates=list, match=Match, prefixes=dict, key=str, cut=Py_ssize_t)
cpdef object match_path_table(PathTable table, str method, str path, dict headers, dict params)

@cython.locals(listeners=list, params=dict)
cpdef object route(HostIndex table, str host, str method, str path, str query, dict headers)

@cython.locals(total=long, point=long, i=Py_ssize_t, cumulative=tuple)
cpdef object pick_backend(Rule rule, double fraction)

@cython.locals(rest=str)
cpdef str replace_prefix(str path, str prefix, str replacement)

@cython.locals(out=dict, key=str, text=str)
cpdef dict index_headers(list raw)

@cython.locals(tokens=list)
cpdef frozenset connection_tokens(object value)

@cython.locals(name=bytes, lname=bytes, value=bytes)
cdef void _apply_ops(list lines, HeaderOps ops, dict headers)

cdef bint _skip(bytes lname, frozenset owned, frozenset tokens, HeaderOps ops)

@cython.locals(tokens=frozenset, lines=list, name=bytes, value=bytes, lname=bytes, forwarded=object)
cpdef bytes request_head(str method, str target, list raw, dict headers, str host, HeaderOps ops, str client,
                         str proto, bytes framing)

@cython.locals(tokens=frozenset, lines=list, name=bytes, value=bytes, lname=bytes)
cpdef bytes response_head(int status, bytes reason, list raw, dict headers, HeaderOps ops, bytes framing,
                          bint keep_alive)
