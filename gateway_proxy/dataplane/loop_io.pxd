# The system calls of the C event loop (loop_io.pyx): epoll, eventfds to wake it and Python, sockets.
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t

cdef extern from "sys/epoll.h" nogil:
    union epoll_data_t:
        void *ptr
        int fd
        uint64_t u64
    struct epoll_event:
        uint32_t events
        epoll_data_t data
    enum:
        EPOLLIN
        EPOLLOUT
        EPOLLERR
        EPOLLHUP
        EPOLLRDHUP
        EPOLLET
        EPOLL_CTL_ADD
        EPOLL_CTL_DEL
        EPOLL_CTL_MOD
        EPOLL_CLOEXEC
    int epoll_create1(int flags)
    int epoll_ctl(int epfd, int op, int fd, epoll_event *event)
    int epoll_wait(int epfd, epoll_event *events, int maxevents, int timeout)

cdef int wake_make() noexcept nogil
cdef void wake_ring(int fd) noexcept nogil
cdef void wake_drain(int fd) noexcept nogil
cdef void wake_wait(int fd, double seconds) noexcept nogil
cdef bint epoll_add(int ep, int fd, void *ptr, bint level) noexcept nogil
cdef void epoll_del(int ep, int fd) noexcept nogil
cdef void epoll_rearm(int ep, int fd, void *ptr) noexcept nogil
cdef int sock_accept(int listen_fd, char *peer, uint8_t *peer_len) noexcept nogil
cdef int sock_connect(const uint8_t *key) noexcept nogil
cdef int64_t sock_recv(int fd, char *buf, uint32_t n) noexcept nogil
cdef int64_t sock_send(int fd, const char *buf, uint32_t n) noexcept nogil
cdef bint sock_shut_write(int fd) noexcept nogil
