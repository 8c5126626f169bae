# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, infer_types=True
"""One side of the L2 book in C: what ``bastion.data.book_side.Side`` does, faster.

Why C: applying a diff is a hash-table update per level, and in Python each
one costs a dict lookup of a fresh price string (or a float made from it)
in a dict of tens of thousands of levels; the interpreter cannot get a
Binance diff (about 46 levels) under the 5 µs that 200,000 diffs a second
allow. Here a level is a 16-byte slot keyed by the price's double, the
price and quantity texts are read straight from the JSON parser's strings
(no float objects), a zero quantity deletes the slot at once (no
tombstones), and the best ``TOP`` prices of the side are kept sorted as the
diff goes in, so the crossed check after every diff is one call (``meets``).

The numbers are exactly Python's: a text is parsed to the double
``float(text)`` gives (plain digits, at most 15 of them, are exact by
Clinger's fast path: an integer below 10**15 < 2**53 divided by a power of
ten up to 1e15 is rounded once, correctly; anything else goes through
``float()`` itself). Prices are keys by value, so any spelling of a price
("100", "100.00000000") is the same level, as in the float-keyed book.

Built by setuptools at install (``setup.py``); when it is absent the pure
Python ``Side`` is used and behaves identically (the property test runs both).
"""

from cpython.dict cimport PyDict_Next
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.object cimport PyObject
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy, memmove

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t* size) except NULL
    double PyFloat_AsDouble(object o) except? -1.0

cdef enum:
    TOP = 64  # the best prices kept sorted; a wider read scans the side
    REFILL = 16  # fewer than this left in a partial top: rebuild it on the next read

cdef uint64_t EMPTY = 0xFFFFFFFFFFFFFFFFULL  # a NaN no parser produces: the free slot

cdef struct Slot:  # 16 bytes: a side of 2,500 levels is 64 kB of table
    uint64_t key  # the price's bits (EMPTY: free)
    double qty


cdef inline double _price(uint64_t key) noexcept nogil:
    cdef double p
    memcpy(&p, &key, sizeof(double))
    return p


cdef inline uint64_t _mix(uint64_t x) noexcept nogil:
    # splitmix64's finaliser: neighbouring prices spread over the table
    x ^= x >> 30
    x *= 0xBF58476D1CE4E5B9ULL
    x ^= x >> 27
    x *= 0x94D049BB133111EBULL
    x ^= x >> 31
    return x


cdef extern from *:
    """
    /* float(text) for a compact ASCII str of plain decimal digits with at most
       15 of them (16 characters with the point): the integer is exact below
       10**15 < 2**53, and one IEEE division by an exact power of ten rounds it
       once, correctly (Clinger's fast path), so the double is float(text)'s.
       Returns 0 when the text is anything else: Python's parser decides. */
    static const double bk_pow10[16] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
                                        1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    static inline int bk_text(PyObject *s, double *out) {
        if (!PyUnicode_IS_COMPACT_ASCII(s)) return 0;
        Py_ssize_t n = PyUnicode_GET_LENGTH(s), dot = -1;
        const unsigned char *c = (const unsigned char *)PyUnicode_DATA(s);
        unsigned long long m = 0;
        if (n == 0 || n > 16) return 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            unsigned int d = (unsigned int)c[i] - 48u;
            if (d <= 9u) m = m * 10u + d;
            else if (c[i] == '.' && dot < 0) dot = i;
            else return 0;
        }
        if (dot < 0) {
            if (n > 15) return 0;
            *out = (double)m;
        } else {
            if (n == 1) return 0;
            *out = (double)m / bk_pow10[n - dot - 1];
        }
        return 1;
    }
    """
    int bk_text(PyObject* s, double* out) noexcept
    bint PyList_CheckExact(PyObject* o) noexcept
    Py_ssize_t PyList_GET_SIZE(PyObject* o) noexcept
    PyObject* PyList_GET_ITEM(PyObject* o, Py_ssize_t i) noexcept


cdef inline double _text(object s) except? -1.0:
    """``float(s)`` for a ``str``, without making the float."""
    cdef double out
    if bk_text(<PyObject*>s, &out):
        return out
    return float(s)


cdef inline double _num(object x) except? -1.0:
    if type(x) is str:
        return _text(x)
    if type(x) is float:
        return PyFloat_AS_DOUBLE(x)
    if isinstance(x, str):
        return _text(x)
    return PyFloat_AsDouble(x)


cdef class Side:
    """Price -> quantity for one side, best ``TOP`` prices sorted (see module doc).

    Invariant: ``top[:ntop]`` is sorted best first and holds every live price
    at or better than its last one; ``whole`` says it holds every live price.
    """

    cdef Slot* slots
    cdef Py_ssize_t cap  # a power of two
    cdef Py_ssize_t count
    cdef readonly bint best_first  # bids: True (highest first)
    cdef double top[TOP]
    cdef int ntop
    cdef bint whole

    def __cinit__(self, bint best_first_high):
        self.best_first = best_first_high
        self.cap = 0
        self.slots = NULL
        self._alloc(1024)
        self.ntop = 0
        self.whole = True

    def __dealloc__(self):
        free(self.slots)

    cdef int _alloc(self, Py_ssize_t cap) except -1:
        cdef Slot* s = <Slot*>calloc(cap, sizeof(Slot))
        cdef Py_ssize_t i
        if s == NULL:
            raise MemoryError()
        for i in range(cap):
            s[i].key = EMPTY
        free(self.slots)
        self.slots = s
        self.cap = cap
        self.count = 0
        return 0

    cdef int _grow(self) except -1:
        cdef Slot* old = self.slots
        cdef Py_ssize_t oldcap = self.cap, i
        cdef Slot* s = <Slot*>calloc(oldcap * 2, sizeof(Slot))
        if s == NULL:
            raise MemoryError()
        for i in range(oldcap * 2):
            s[i].key = EMPTY
        self.slots = s
        self.cap = oldcap * 2
        self.count = 0
        for i in range(oldcap):
            if old[i].key != EMPTY:
                self._put_new(old[i].key, old[i].qty)
        free(old)
        return 0

    cdef inline void _put_new(self, uint64_t key, double qty) noexcept:
        cdef Py_ssize_t mask = self.cap - 1
        cdef Py_ssize_t i = <Py_ssize_t>(_mix(key) & <uint64_t>mask)
        while self.slots[i].key != EMPTY:
            i = (i + 1) & mask
        self.slots[i].key = key
        self.slots[i].qty = qty
        self.count += 1

    cdef inline Py_ssize_t _find(self, uint64_t key) noexcept:
        cdef Py_ssize_t mask = self.cap - 1
        cdef Py_ssize_t i = <Py_ssize_t>(_mix(key) & <uint64_t>mask)
        cdef uint64_t k
        while True:
            k = self.slots[i].key
            if k == key:
                return i
            if k == EMPTY:
                return -1 - i  # where it would go
            i = (i + 1) & mask

    cdef void _delete_at(self, Py_ssize_t i) noexcept:
        """Backward-shift deletion: the probe chains stay whole, no tombstones."""
        cdef Py_ssize_t mask = self.cap - 1
        cdef Py_ssize_t j = i, home
        while True:
            j = (j + 1) & mask
            if self.slots[j].key == EMPTY:
                break
            home = <Py_ssize_t>(_mix(self.slots[j].key) & <uint64_t>mask)
            # move j back to i unless its home lies cyclically in (i, j]
            if (j > i and (home <= i or home > j)) or (j < i and (home <= i and home > j)):
                self.slots[i] = self.slots[j]
                i = j
        self.slots[i].key = EMPTY
        self.count -= 1

    cdef inline bint _better(self, double a, double b) noexcept:
        return a > b if self.best_first else a < b

    cdef inline int _place(self, double p) noexcept:
        """Where ``p`` goes in ``top``: the first index whose price is not better."""
        cdef int lo = 0, hi = self.ntop, mid
        while lo < hi:
            mid = (lo + hi) >> 1
            if self._better(self.top[mid], p):
                lo = mid + 1
            else:
                hi = mid
        return lo

    cdef void _top_insert(self, double p) noexcept:
        """Put a live price not in ``top`` into it when it belongs there."""
        cdef int n = self.ntop, at
        if n == 0 and not self.whole:
            return  # the top is being rebuilt on the next read; p will be found
        if not self.whole and not self._better(p, self.top[n - 1]):
            return  # beyond the top: nothing there needs to know
        at = self._place(p)
        if n == TOP:  # full: the worst one leaves, the top's floor moves in
            self.whole = False
            if at == TOP:
                return
            n = TOP - 1
        memmove(&self.top[at + 1], &self.top[at], (n - at) * sizeof(double))
        self.top[at] = p
        self.ntop = n + 1

    cdef void _top_remove(self, double p) noexcept:
        cdef int n = self.ntop, at
        if n == 0 or (not self.whole and self._better(self.top[n - 1], p)):
            return  # not in the top
        at = self._place(p)
        if at < n and self.top[at] == p:
            memmove(&self.top[at], &self.top[at + 1], (n - at - 1) * sizeof(double))
            self.ntop = n - 1

    cdef int _set(self, double p, double q) except -1:
        cdef uint64_t key
        cdef Py_ssize_t i
        if p == 0.0:
            p = 0.0  # -0.0 and 0.0 are one price
        memcpy(&key, &p, sizeof(double))
        i = self._find(key)
        if q == 0.0:
            if i >= 0:
                self._delete_at(i)
                self._top_remove(p)
            return 0
        if i >= 0:
            self.slots[i].qty = q
            return 0
        if (self.count + 1) * 2 > self.cap:
            self._grow()
            self._put_new(key, q)
        else:
            i = -1 - i
            self.slots[i].key = key
            self.slots[i].qty = q
            self.count += 1
        self._top_insert(p)
        return 0

    cdef void _rescan(self) noexcept:
        cdef Py_ssize_t i
        self.ntop = 0
        self.whole = True
        for i in range(self.cap):
            if self.slots[i].key != EMPTY:
                self._top_insert(_price(self.slots[i].key))

    cdef inline void _ensure(self) noexcept:
        if not self.whole and self.ntop < REFILL:
            self._rescan()

    # ------------------------------------------------------------- the interface
    def update(self, levels):
        """Fold a diff's levels in: ``[[price, qty], ...]`` as the JSON parser
        hands them (texts), or a mapping of price -> quantity; 0 removes."""
        cdef Py_ssize_t pos = 0, i, n
        cdef PyObject* k
        cdef PyObject* v
        cdef PyObject* lv
        cdef PyObject* item
        cdef double price, qty
        if type(levels) is list:
            lv = <PyObject*>levels
            n = PyList_GET_SIZE(lv)
            for i in range(n):
                item = PyList_GET_ITEM(lv, i)  # borrowed: the hot path touches no refcount
                if (
                    PyList_CheckExact(item) and PyList_GET_SIZE(item) == 2
                    and bk_text(PyList_GET_ITEM(item, 0), &price)
                    and bk_text(PyList_GET_ITEM(item, 1), &qty)
                ):
                    self._set(price, qty)
                else:  # numbers, odd spellings, bad shapes: the general way
                    p, q = <object>item
                    self._set(_num(p), _num(q))
        elif type(levels) is dict:
            while PyDict_Next(levels, &pos, &k, &v):
                self._set(_num(<object>k), _num(<object>v))
        elif hasattr(levels, "items"):
            for p, q in levels.items():
                self._set(_num(p), _num(q))
        else:
            for p, q in levels:
                self._set(_num(p), _num(q))

    def reset(self, levels):
        """Replace the side by a snapshot's levels (only positive quantities)."""
        cdef double p, q
        self._alloc(1024)
        self.ntop = 0
        self.whole = True
        pairs = levels.items() if hasattr(levels, "items") else levels
        for a, b in pairs:
            p, q = _num(a), _num(b)
            if q > 0:
                self._set(p, q)

    def best(self):
        """The best live price, or None."""
        self._ensure()
        return self.top[0] if self.ntop else None

    def meets(self, Side other) -> bool:
        """Whether this side's best price reaches the other side's best (a bid
        at or above the best ask): the crossed check, in one call, no floats."""
        self._ensure()
        other._ensure()
        if not self.ntop or not other.ntop:
            return False
        if self.best_first:
            return self.top[0] >= other.top[0]
        return self.top[0] <= other.top[0]

    def qty(self, price) -> float:
        """The quantity at ``price`` (0.0 when no level rests there)."""
        cdef double p = _num(price)
        cdef uint64_t key
        if p == 0.0:
            p = 0.0
        memcpy(&key, &p, sizeof(double))
        cdef Py_ssize_t i = self._find(key)
        return self.slots[i].qty if i >= 0 else 0.0

    def within(self, double limit) -> float:
        """Quantity at prices no worse than ``limit``."""
        cdef double total = 0.0, p
        cdef int j
        cdef Py_ssize_t i
        self._ensure()
        cdef bint from_top = self.whole or (
            self.ntop > 0 and self._better(limit, self.top[self.ntop - 1])
        )
        if from_top:
            for j in range(self.ntop):
                p = self.top[j]
                if self._better(limit, p):
                    break
                total += self._qty_at(p)
            return total
        for i in range(self.cap):
            if self.slots[i].key != EMPTY:
                p = _price(self.slots[i].key)
                if not self._better(limit, p):
                    total += self.slots[i].qty
        return total

    cdef inline double _qty_at(self, double p) noexcept:
        """A price of the top is always in the table; were it not, 0 beats a wild read."""
        cdef uint64_t key
        memcpy(&key, &p, sizeof(double))
        cdef Py_ssize_t i = self._find(key)
        return self.slots[i].qty if i >= 0 else 0.0

    def levels(self, Py_ssize_t n) -> list:
        """The best ``n`` levels, best first, as (price, qty)."""
        cdef int j
        cdef Py_ssize_t i
        cdef double p
        self._ensure()
        if n <= self.ntop or self.whole:
            out = []
            for j in range(min(n, self.ntop)):
                p = self.top[j]
                out.append((p, self._qty_at(p)))
            return out
        every = [(_price(self.slots[i].key), self.slots[i].qty)
                 for i in range(self.cap) if self.slots[i].key != EMPTY]
        every.sort(reverse=self.best_first)
        del every[n:]
        return every

    def as_dict(self) -> dict:
        """Every live level, price -> quantity."""
        cdef Py_ssize_t i
        return {_price(self.slots[i].key): self.slots[i].qty
                for i in range(self.cap) if self.slots[i].key != EMPTY}

    def __len__(self) -> int:
        return self.count
