"""The system calls of the C event loop, wrapped once so that the state machines read plainly.

Why it exists: loop.pyx should say what a connection does, not how errno is spelled. Every
function here is ``noexcept nogil`` and reports failure in-band: a negative errno, or -1.
Sockets are non-blocking and close-on-exec; TCP_NODELAY is set on both sides because heads and
bodies leave in separate writes, as on the asyncio path (upstream.py, downstream.py).
"""

from libc.errno cimport EAGAIN, EINPROGRESS, EINTR, errno
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset, strlen
from posix.unistd cimport close, read, write

cdef extern from "sys/eventfd.h" nogil:
    enum:
        EFD_NONBLOCK
        EFD_CLOEXEC
    int eventfd(unsigned int initval, int flags)

cdef extern from "poll.h" nogil:
    struct pollfd:
        int fd
        short events
        short revents
    enum:
        POLLIN
    int poll(pollfd *fds, unsigned long nfds, int timeout)

cdef extern from "sys/socket.h" nogil:
    ctypedef unsigned int socklen_t
    struct sockaddr:
        unsigned short sa_family
    struct sockaddr_storage:
        unsigned short ss_family
    enum:
        AF_INET
        AF_INET6
        SOCK_STREAM
        SOCK_NONBLOCK
        SOCK_CLOEXEC
        MSG_NOSIGNAL
        SHUT_WR
    int socket(int domain, int type, int protocol)
    int shutdown(int fd, int how)
    int accept4(int fd, sockaddr *addr, socklen_t *len, int flags)
    int connect(int fd, const sockaddr *addr, socklen_t len)
    int setsockopt(int fd, int level, int name, const void *value, socklen_t len)
    long recv(int fd, void *buf, size_t n, int flags)
    long send(int fd, const void *buf, size_t n, int flags)

cdef extern from "netinet/in.h" nogil:
    enum:
        IPPROTO_TCP
    struct in_addr:
        uint32_t s_addr
    struct sockaddr_in:
        unsigned short sin_family
        unsigned short sin_port
        in_addr sin_addr
    struct in6_addr:
        unsigned char s6_addr[16]
    struct sockaddr_in6:
        unsigned short sin6_family
        unsigned short sin6_port
        in6_addr sin6_addr

cdef extern from "netinet/tcp.h" nogil:
    enum:
        TCP_NODELAY

cdef extern from "arpa/inet.h" nogil:
    const char *inet_ntop(int af, const void *src, char *dst, socklen_t size)


cdef int wake_make() noexcept nogil:
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)


cdef void wake_ring(int fd) noexcept nogil:
    cdef uint64_t one = 1
    write(fd, &one, 8)


cdef void wake_drain(int fd) noexcept nogil:
    cdef uint64_t value
    read(fd, &value, 8)


cdef void wake_wait(int fd, double seconds) noexcept nogil:
    """Sleep until ``fd`` is rung or ``seconds`` pass, then drain it: a wait that costs no CPU.
    Callers re-check their condition after it (a ring may predate the condition they wait for)."""
    cdef pollfd watched
    watched.fd = fd
    watched.events = POLLIN
    watched.revents = 0
    if poll(&watched, 1, <int>(seconds * 1000.0) + 1) > 0:
        wake_drain(fd)


cdef bint epoll_add(int ep, int fd, void *ptr, bint level) noexcept nogil:
    """Watch ``fd``: level-triggered reads for the listener and the wake fd (a bounded accept
    batch leaves the rest for the next wait), edge-triggered both ways for connections."""
    cdef epoll_event event
    memset(&event, 0, sizeof(event))
    event.events = EPOLLIN if level else (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)
    event.data.ptr = ptr
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &event) == 0


cdef void epoll_del(int ep, int fd) noexcept nogil:
    cdef epoll_event event
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, &event)


cdef void epoll_rearm(int ep, int fd, void *ptr) noexcept nogil:
    """Ask epoll to report a connection again if it is ready: a state machine that stopped at its
    step bound, not at EAGAIN, would otherwise wait for an edge that may never come."""
    cdef epoll_event event
    memset(&event, 0, sizeof(event))
    event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET
    event.data.ptr = ptr
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &event)


cdef void _nodelay(int fd) noexcept nogil:
    cdef int one = 1
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))


cdef int sock_accept(int listen_fd, char *peer, uint8_t *peer_len) noexcept nogil:
    """A new client socket and its address as text (``str(peername[0])``); -errno when none."""
    cdef sockaddr_storage address
    cdef socklen_t length = sizeof(address)
    cdef int fd = accept4(listen_fd, <sockaddr *>&address, &length, SOCK_NONBLOCK | SOCK_CLOEXEC)
    if fd < 0:
        return -errno
    _nodelay(fd)
    peer[0] = 0
    if address.ss_family == AF_INET:
        inet_ntop(AF_INET, &(<sockaddr_in *>&address).sin_addr, peer, 47)
    elif address.ss_family == AF_INET6:
        inet_ntop(AF_INET6, &(<sockaddr_in6 *>&address).sin6_addr, peer, 47)
    peer_len[0] = <uint8_t>strlen(peer)
    return fd


cdef int sock_connect(const uint8_t *key) noexcept nogil:
    """A socket connecting to the pool key (family, port, address); -1 when it failed already."""
    cdef sockaddr_in v4
    cdef sockaddr_in6 v6
    cdef int family = key[0]
    cdef int fd, result
    cdef uint32_t port = (<uint32_t>key[1] << 8) | key[2]
    if family != AF_INET and family != AF_INET6:
        return -1
    fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)
    if fd < 0:
        return -1
    _nodelay(fd)
    if family == AF_INET:
        memset(&v4, 0, sizeof(v4))
        v4.sin_family = AF_INET
        v4.sin_port = <unsigned short>(((port & 255) << 8) | (port >> 8))
        memcpy(&v4.sin_addr, key + 3, 4)
        result = connect(fd, <sockaddr *>&v4, sizeof(v4))
    else:
        memset(&v6, 0, sizeof(v6))
        v6.sin6_family = AF_INET6
        v6.sin6_port = <unsigned short>(((port & 255) << 8) | (port >> 8))
        memcpy(&v6.sin6_addr, key + 3, 16)
        result = connect(fd, <sockaddr *>&v6, sizeof(v6))
    if result < 0 and errno != EINPROGRESS:
        close(fd)
        return -1
    return fd


cdef int64_t sock_recv(int fd, char *buf, uint32_t n) noexcept nogil:
    """Bytes read, 0 at end of stream, -errno (-EAGAIN: nothing now)."""
    cdef long got
    while True:
        got = recv(fd, buf, n, 0)
        if got >= 0:
            return got
        if errno != EINTR:
            return -errno


cdef int64_t sock_send(int fd, const char *buf, uint32_t n) noexcept nogil:
    cdef long sent
    while True:
        sent = send(fd, buf, n, MSG_NOSIGNAL)
        if sent >= 0:
            return sent
        if errno != EINTR:
            return -errno


cdef bint sock_shut_write(int fd) noexcept nogil:
    """Send our EOF (a half-close), the other direction staying open; False when it failed."""
    return shutdown(fd, SHUT_WR) == 0
