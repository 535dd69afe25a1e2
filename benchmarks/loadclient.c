/*
 * Load client for benchmarks/compare.py: many SSE streams or connect/abort cycles on
 * 127.0.0.1, one thread, epoll. Built at benchmark time (cc -O2); compare.py pins it to
 * the other core (taskset -c 1) and reports its CPU time next to the server's.
 *
 *   loadclient streams PORT N INFLIGHT INTERVAL DURATION TIME_LIMIT
 *       Open N event streams (GET / with Accept: text/event-stream), at most INFLIGHT
 *       handshakes at a time; a stream is open when its response headers arrived (its
 *       open time). Prints "OPENED <n> <seconds> <errors>". Then:
 *       - DURATION > 0: counts events (blank lines) for DURATION seconds; event k of a
 *         stream is due at open + k x INTERVAL; prints "RESULT {json}" with the events
 *         per second and the lateness of each event received in the window;
 *       - DURATION == 0: holds the streams (reading and discarding) until a line or EOF on
 *         stdin, then prints "RESULT {json}".
 *       Then closes every stream (RST) and exits.
 *   loadclient h2streams PORT N INFLIGHT INTERVAL DURATION TIME_LIMIT PER_CONN
 *       The same over cleartext HTTP/2 with prior knowledge: N streams (GET / with
 *       accept: text/event-stream) multiplexed over ceil(N / PER_CONN) connections, each
 *       connection sending its preface, SETTINGS (no push, stream windows 2^31 - 1), a
 *       connection WINDOW_UPDATE and all its requests at once; a new connection starts
 *       while the streams awaiting their response headers stay within max(INFLIGHT,
 *       PER_CONN). A stream is open when HEADERS with :status 200 arrive; events are
 *       blank lines in its DATA. The client answers SETTINGS and PING, and reopens the
 *       connection window every 16 MiB. Same output, plus "connections" in the JSON.
 *   loadclient churn PORT CYCLES CONCURRENCY TIME_LIMIT
 *       CYCLES x (connect, send GET / for an event stream, read the first bytes, abort),
 *       CONCURRENCY at a time; even cycles abort with RST (SO_LINGER {1, 0}, close), odd
 *       ones with FIN (shutdown(SHUT_WR), close). Prints "RESULT {json}".
 *
 * Bounded: every run stops at TIME_LIMIT seconds (the JSON then says "partial": true), and
 * every connection attempt that takes more than 10 s counts as an error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define OP_TIMEOUT 10.0
#define MAX_EVENTS 1024

static const char REQUEST[] =
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";

enum state { FREE, CONNECTING, HEADERS, STREAMING };

struct conn {
    int fd;
    enum state st;
    double started;  /* connect() time */
    double opened;   /* response headers received */
    unsigned hdr;    /* last 4 header bytes, to find "\r\n\r\n" */
    char status[13]; /* the first 12 bytes of the response */
    int status_len;
    int prev_nl;     /* the previous body byte was '\n' */
    long events;     /* events received since open */
    double last_late; /* lateness of the last event in the window */
    int has_last;
    long cycle;      /* churn: this connection's cycle number */
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int epfd;
static struct sockaddr_in addr;

static void die(const char *what) {
    perror(what);
    exit(2);
}

static int start_connect(struct conn *c, int index) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->st = CONNECTING;
    c->started = now();
    struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (unsigned)index};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    return 0;
}

static void abort_conn(struct conn *c, int reset) {
    if (c->fd < 0) return;
    if (reset) {
        struct linger lg = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    } else {
        shutdown(c->fd, SHUT_WR);
    }
    close(c->fd); /* also removes it from the epoll set */
    c->fd = -1;
    c->st = FREE;
}

/* The socket is writable after connect(): check the result and send the request. */
static int on_connected(struct conn *c, int index) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return -1;
    if (send(c->fd, REQUEST, sizeof REQUEST - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof REQUEST - 1))
        return -1;
    c->st = HEADERS;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (unsigned)index};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(double *v, long n, double p) {
    if (n == 0) return 0.0;
    long i = (long)(p * (double)(n - 1) + 0.5);
    return v[i];
}

/* ---- streams ------------------------------------------------------------------------ */

static int run_streams(int n, int inflight, double interval, double duration, double limit) {
    struct conn *conns = calloc((size_t)n, sizeof *conns);
    if (!conns) die("calloc");
    for (int i = 0; i < n; i++) conns[i].fd = -1;
    double t0 = now(), deadline = t0 + limit;
    int launched = 0, opened = 0, pending = 0, errors = 0, dropped = 0, partial = 0;
    double opened_at = 0.0, window_start = 0.0, window_end = 0.0;
    int holding = 0, stdin_done = 0;
    long window_events = 0, lat_n = 0, lat_cap = 1 << 16;
    double *lat = malloc((size_t)lat_cap * sizeof *lat);
    if (!lat) die("malloc");
    double lat_sum = 0.0;
    static char buf[65536];
    struct epoll_event evs[MAX_EVENTS];

    for (;;) {
        double t = now();
        if (t >= deadline) {
            partial = 1;
            break;
        }
        while (launched < n && pending < inflight && !holding) {
            if (start_connect(&conns[launched], launched) < 0) {
                errors++;
                conns[launched].fd = -1;
            } else {
                pending++;
            }
            launched++;
        }
        if (!holding && launched == n && pending == 0) {
            opened_at = t;
            printf("OPENED %d %.6f %d\n", opened, opened_at - t0, errors);
            fflush(stdout);
            holding = 1;
            window_start = t;
            window_end = t + duration;
            if (duration <= 0.0) {
                struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0xFFFFFFFFu};
                if (epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev) < 0) stdin_done = 1;
            }
        }
        if (holding && duration > 0.0 && t >= window_end) break;
        if (holding && duration <= 0.0 && stdin_done) break;
        int timeout_ms = 100;
        if (holding && duration > 0.0) {
            int left = (int)((window_end - t) * 1000.0) + 1;
            if (left < timeout_ms) timeout_ms = left;
        }
        int k = epoll_wait(epfd, evs, MAX_EVENTS, timeout_ms);
        if (k < 0 && errno != EINTR) die("epoll_wait");
        for (int e = 0; e < k; e++) {
            unsigned idx = evs[e].data.u32;
            if (idx == 0xFFFFFFFFu) {
                ssize_t r = read(0, buf, sizeof buf);
                if (r <= 0 || memchr(buf, '\n', (size_t)r)) stdin_done = 1;
                if (r <= 0) epoll_ctl(epfd, EPOLL_CTL_DEL, 0, NULL);
                continue;
            }
            struct conn *c = &conns[idx];
            if (c->fd < 0) continue;
            if (c->st == CONNECTING) {
                if (on_connected(c, (int)idx) < 0) {
                    abort_conn(c, 1);
                    errors++;
                    pending--;
                }
                continue;
            }
            ssize_t r = recv(c->fd, buf, sizeof buf, 0);
            double tr = now();
            if (r <= 0) {
                if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                if (c->st == HEADERS) {
                    errors++;
                    pending--;
                } else {
                    dropped++;
                }
                abort_conn(c, 1);
                continue;
            }
            for (ssize_t i = 0; i < r; i++) {
                char ch = buf[i];
                if (c->st == HEADERS) {
                    if (c->status_len < 12) c->status[c->status_len++] = ch;
                    c->hdr = (c->hdr << 8) | (unsigned char)ch;
                    if (c->hdr == 0x0d0a0d0au) {
                        if (strncmp(c->status, "HTTP/1.1 200", 12) != 0) {
                            errors++;
                            pending--;
                            abort_conn(c, 1);
                            break;
                        }
                        c->st = STREAMING;
                        c->opened = tr;
                        opened++;
                        pending--;
                    }
                    continue;
                }
                if (ch == '\n' && c->prev_nl) {
                    c->prev_nl = 0;
                    c->events++;
                    if (holding && duration > 0.0 && tr >= window_start && tr < window_end) {
                        double late = tr - (c->opened + (double)c->events * interval);
                        window_events++;
                        lat_sum += late;
                        if (lat_n == lat_cap) {
                            lat_cap *= 2;
                            lat = realloc(lat, (size_t)lat_cap * sizeof *lat);
                            if (!lat) die("realloc");
                        }
                        lat[lat_n++] = late;
                        c->last_late = late;
                        c->has_last = 1;
                    }
                } else {
                    c->prev_nl = ch == '\n';
                }
            }
        }
        /* handshakes that take too long count as errors */
        if (!holding) {
            double t2 = now();
            for (int i = 0; i < launched; i++) {
                struct conn *c = &conns[i];
                if (c->fd >= 0 && c->st != STREAMING && t2 - c->started > OP_TIMEOUT) {
                    abort_conn(c, 1);
                    errors++;
                    pending--;
                }
            }
        }
    }
    if (!holding) {
        printf("OPENED %d %.6f %d\n", opened, now() - t0, errors);
    }
    double *last = malloc((size_t)n * sizeof *last);
    if (!last) die("malloc");
    long last_n = 0;
    int alive = 0;
    for (int i = 0; i < n; i++) {
        if (conns[i].fd >= 0 && conns[i].st == STREAMING) alive++;
        if (conns[i].has_last) last[last_n++] = conns[i].last_late;
    }
    qsort(lat, (size_t)lat_n, sizeof *lat, cmp_double);
    qsort(last, (size_t)last_n, sizeof *last, cmp_double);
    double span = duration > 0.0 ? duration : 0.0;
    printf(
        "RESULT {\"opened\": %d, \"open_seconds\": %.6f, \"errors\": %d, \"dropped\": %d, "
        "\"alive\": %d, \"partial\": %s, \"window_seconds\": %.3f, \"events\": %ld, "
        "\"events_per_second\": %.3f, \"lateness_mean_ms\": %.3f, \"lateness_p50_ms\": %.3f, "
        "\"lateness_p99_ms\": %.3f, \"lateness_max_ms\": %.3f, \"last_tick_drift_median_ms\": "
        "%.3f, \"last_tick_drift_p99_ms\": %.3f, \"last_tick_drift_max_ms\": %.3f}\n",
        opened, opened_at > 0.0 ? opened_at - t0 : now() - t0, errors, dropped, alive,
        partial ? "true" : "false", span, window_events,
        span > 0.0 ? (double)window_events / span : 0.0,
        lat_n ? lat_sum / (double)lat_n * 1e3 : 0.0, percentile(lat, lat_n, 0.5) * 1e3,
        percentile(lat, lat_n, 0.99) * 1e3, lat_n ? lat[lat_n - 1] * 1e3 : 0.0,
        percentile(last, last_n, 0.5) * 1e3, percentile(last, last_n, 0.99) * 1e3,
        last_n ? last[last_n - 1] * 1e3 : 0.0);
    fflush(stdout);
    for (int i = 0; i < n; i++) abort_conn(&conns[i], 1);
    free(conns);
    free(lat);
    free(last);
    return 0;
}

/* ---- HTTP/2 streams ------------------------------------------------------------------ */

#define H2_BUF (1 << 17)
#define H2_WINDOW_STEP (1L << 24)

enum h2_type { H2_DATA = 0, H2_HEADERS = 1, H2_RST_STREAM = 3, H2_SETTINGS = 4, H2_PING = 6,
               H2_GOAWAY = 7 };
enum h2_flag { F_END_STREAM = 0x1, F_ACK = 0x1, F_END_HEADERS = 0x4, F_PADDED = 0x8,
               F_PRIORITY = 0x20 };
enum h2_stream_state { S_IDLE, S_WAITING, S_OPEN, S_GONE };

static const unsigned char H2_PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/* HPACK, literal fields without indexing, no Huffman: :method GET, :scheme http, :path /
 * (static entries 2, 6, 4), :authority 127.0.0.1 (name 1), accept text/event-stream
 * (name 19 = 15 + 4). No dynamic table: every block stands alone. */
static const unsigned char H2_REQUEST[] = {
    0x82, 0x86, 0x84, 0x01, 9, '1', '2', '7', '.', '0', '.', '0', '.', '1', 0x0f, 0x04, 17,
    't', 'e', 'x', 't', '/', 'e', 'v', 'e', 'n', 't', '-', 's', 't', 'r', 'e', 'a', 'm'};

struct h2conn {
    int fd;
    int connecting;
    double started;
    int first, count; /* its streams: first .. first + count - 1 (stream ids 1, 3, 5, ...) */
    int waiting;      /* streams without response headers yet */
    unsigned char *buf;
    size_t len;
    long unacked; /* DATA bytes since the last connection WINDOW_UPDATE */
};

struct h2s {
    int st;
    int prev_nl;
    double opened;
    long events;
    double last_late;
    int has_last;
};

static void h2_frame_head(unsigned char *p, unsigned len, int type, int flags, unsigned sid) {
    p[0] = (unsigned char)(len >> 16);
    p[1] = (unsigned char)(len >> 8);
    p[2] = (unsigned char)len;
    p[3] = (unsigned char)type;
    p[4] = (unsigned char)flags;
    p[5] = (unsigned char)(sid >> 24);
    p[6] = (unsigned char)(sid >> 16);
    p[7] = (unsigned char)(sid >> 8);
    p[8] = (unsigned char)sid;
}

static void h2_abort(struct h2conn *c) { /* RST: SO_LINGER {1, 0}, close */
    if (c->fd < 0) return;
    struct linger lg = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(c->fd);
    c->fd = -1;
}

static int send_all(int fd, const unsigned char *p, size_t n) {
    return send(fd, p, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

/* The socket is writable after connect(): the preface, SETTINGS, WINDOW_UPDATE and all the
 * connection's requests, in one write. */
static int h2_on_connected(struct h2conn *c, int index) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return -1;
    size_t size = sizeof H2_PREFACE - 1 + 9 + 12 + 9 + 4 +
                  (size_t)c->count * (9 + sizeof H2_REQUEST);
    unsigned char *out = malloc(size), *p = out;
    if (!out) die("malloc");
    memcpy(p, H2_PREFACE, sizeof H2_PREFACE - 1);
    p += sizeof H2_PREFACE - 1;
    h2_frame_head(p, 12, H2_SETTINGS, 0, 0);
    p += 9;
    unsigned char settings[12] = {0, 2, 0, 0, 0, 0, /* ENABLE_PUSH 0 */
                                  0, 4, 0x7f, 0xff, 0xff, 0xff /* INITIAL_WINDOW_SIZE */};
    memcpy(p, settings, 12);
    p += 12;
    h2_frame_head(p, 4, 8, 0, 0); /* WINDOW_UPDATE on the connection: to 2^31 - 1 */
    p += 9;
    unsigned inc = 0x7fffffffu - 65535u;
    p[0] = (unsigned char)(inc >> 24), p[1] = (unsigned char)(inc >> 16);
    p[2] = (unsigned char)(inc >> 8), p[3] = (unsigned char)inc;
    p += 4;
    for (int k = 0; k < c->count; k++) {
        h2_frame_head(p, sizeof H2_REQUEST, H2_HEADERS, F_END_STREAM | F_END_HEADERS,
                      1u + 2u * (unsigned)k);
        p += 9;
        memcpy(p, H2_REQUEST, sizeof H2_REQUEST);
        p += sizeof H2_REQUEST;
    }
    int rc = send_all(c->fd, out, (size_t)(p - out));
    free(out);
    if (rc < 0) return -1;
    c->connecting = 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (unsigned)index};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
    return 0;
}

static int run_h2streams(int n, int inflight, double interval, double duration, double limit,
                         int per_conn) {
    if (per_conn < 1) per_conn = 1;
    int nconns = (n + per_conn - 1) / per_conn;
    int budget = inflight > per_conn ? inflight : per_conn;
    struct h2conn *conns = calloc((size_t)nconns, sizeof *conns);
    struct h2s *streams = calloc((size_t)n, sizeof *streams);
    if (!conns || !streams) die("calloc");
    for (int i = 0; i < nconns; i++) conns[i].fd = -1;
    double t0 = now(), deadline = t0 + limit;
    int launched = 0, launched_streams = 0, opened = 0, waiting = 0, errors = 0, dropped = 0;
    int partial = 0, holding = 0, stdin_done = 0, bad_frames = 0;
    double opened_at = 0.0, window_start = 0.0, window_end = 0.0;
    long window_events = 0, lat_n = 0, lat_cap = 1 << 16;
    double *lat = malloc((size_t)lat_cap * sizeof *lat);
    if (!lat) die("malloc");
    double lat_sum = 0.0;
    static unsigned char stdin_buf[4096];
    struct epoll_event evs[MAX_EVENTS];

    for (;;) {
        double t = now();
        if (t >= deadline) {
            partial = 1;
            break;
        }
        while (launched < nconns && !holding) {
            int count = n - launched_streams < per_conn ? n - launched_streams : per_conn;
            if (waiting + count > budget) break;
            struct h2conn *c = &conns[launched];
            c->first = launched_streams;
            c->count = count;
            launched_streams += count;
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            int one = 1;
            if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (fd < 0 ||
                (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS)) {
                if (fd >= 0) close(fd);
                errors += count;
                launched++;
                continue;
            }
            c->fd = fd;
            c->connecting = 1;
            c->started = now();
            c->buf = malloc(H2_BUF);
            if (!c->buf) die("malloc");
            c->waiting = count;
            for (int k = 0; k < count; k++) streams[c->first + k].st = S_WAITING;
            waiting += count;
            struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (unsigned)launched};
            if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
            launched++;
        }
        if (!holding && launched == nconns && waiting == 0) {
            opened_at = t;
            printf("OPENED %d %.6f %d\n", opened, opened_at - t0, errors);
            fflush(stdout);
            holding = 1;
            window_start = t;
            window_end = t + duration;
            if (duration <= 0.0) {
                struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0xFFFFFFFFu};
                if (epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev) < 0) stdin_done = 1;
            }
        }
        if (holding && duration > 0.0 && t >= window_end) break;
        if (holding && duration <= 0.0 && stdin_done) break;
        int timeout_ms = 100;
        if (holding && duration > 0.0) {
            int left = (int)((window_end - t) * 1000.0) + 1;
            if (left < timeout_ms) timeout_ms = left;
        }
        int k = epoll_wait(epfd, evs, MAX_EVENTS, timeout_ms);
        if (k < 0 && errno != EINTR) die("epoll_wait");
        for (int e = 0; e < k; e++) {
            unsigned idx = evs[e].data.u32;
            if (idx == 0xFFFFFFFFu) {
                ssize_t r = read(0, stdin_buf, sizeof stdin_buf);
                if (r <= 0 || memchr(stdin_buf, '\n', (size_t)r)) stdin_done = 1;
                if (r <= 0) epoll_ctl(epfd, EPOLL_CTL_DEL, 0, NULL);
                continue;
            }
            struct h2conn *c = &conns[idx];
            if (c->fd < 0) continue;
            int broken = 0;
            if (c->connecting) {
                if (h2_on_connected(c, (int)idx) < 0) broken = 1;
            } else {
                ssize_t r = recv(c->fd, c->buf + c->len, H2_BUF - c->len, 0);
                double tr = now();
                if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                if (r <= 0) broken = 1;
                else c->len += (size_t)r;
                size_t off = 0;
                while (!broken && c->len - off >= 9) {
                    unsigned char *f = c->buf + off;
                    size_t flen = ((size_t)f[0] << 16) | ((size_t)f[1] << 8) | f[2];
                    if (flen + 9 > H2_BUF) {
                        broken = 1;
                        bad_frames++;
                        break;
                    }
                    if (c->len - off < 9 + flen) break;
                    int type = f[3], flags = f[4];
                    unsigned sid = (((unsigned)f[5] & 0x7f) << 24) | ((unsigned)f[6] << 16) |
                                   ((unsigned)f[7] << 8) | f[8];
                    unsigned char *pl = f + 9;
                    size_t plen = flen;
                    off += 9 + flen;
                    struct h2s *s = NULL;
                    if (sid != 0 && (sid & 1u) && (int)((sid - 1) / 2) < c->count)
                        s = &streams[c->first + (int)((sid - 1) / 2)];
                    if (type == H2_SETTINGS && !(flags & F_ACK)) {
                        unsigned char ack[9];
                        h2_frame_head(ack, 0, H2_SETTINGS, F_ACK, 0);
                        if (send_all(c->fd, ack, 9) < 0) broken = 1;
                    } else if (type == H2_PING && !(flags & F_ACK) && plen == 8) {
                        unsigned char pong[17];
                        h2_frame_head(pong, 8, H2_PING, F_ACK, 0);
                        memcpy(pong + 9, pl, 8);
                        if (send_all(c->fd, pong, 17) < 0) broken = 1;
                    } else if (type == H2_GOAWAY) {
                        broken = 1;
                    } else if (type == H2_HEADERS && s != NULL && s->st == S_WAITING) {
                        size_t skip = 0;
                        if (flags & F_PADDED) skip += 1;
                        if (flags & F_PRIORITY) skip += 5;
                        c->waiting--;
                        waiting--;
                        /* :status 200 is static entry 8: the first field, 0x88 */
                        if (plen > skip && pl[skip] == 0x88 && !(flags & F_END_STREAM)) {
                            s->st = S_OPEN;
                            s->opened = tr;
                            opened++;
                        } else {
                            s->st = S_GONE;
                            errors++;
                        }
                    } else if (type == H2_RST_STREAM && s != NULL && s->st != S_GONE) {
                        if (s->st == S_WAITING) {
                            c->waiting--;
                            waiting--;
                            errors++;
                        } else {
                            dropped++;
                        }
                        s->st = S_GONE;
                    } else if (type == H2_DATA) {
                        c->unacked += (long)plen;
                        size_t start = 0;
                        if ((flags & F_PADDED) && plen > 0) {
                            start = 1;
                            plen = plen - 1 >= pl[0] ? plen - 1 - pl[0] : 0;
                        }
                        if (s != NULL && s->st == S_OPEN) {
                            for (size_t i = start; i < start + plen; i++) {
                                char ch = (char)pl[i];
                                if (ch == '\n' && s->prev_nl) {
                                    s->prev_nl = 0;
                                    s->events++;
                                    if (holding && duration > 0.0 && tr >= window_start &&
                                        tr < window_end) {
                                        double late =
                                            tr - (s->opened + (double)s->events * interval);
                                        window_events++;
                                        lat_sum += late;
                                        if (lat_n == lat_cap) {
                                            lat_cap *= 2;
                                            lat = realloc(lat, (size_t)lat_cap * sizeof *lat);
                                            if (!lat) die("realloc");
                                        }
                                        lat[lat_n++] = late;
                                        s->last_late = late;
                                        s->has_last = 1;
                                    }
                                } else {
                                    s->prev_nl = ch == '\n';
                                }
                            }
                            if (flags & F_END_STREAM) {
                                s->st = S_GONE;
                                dropped++;
                            }
                        }
                        if (c->unacked >= H2_WINDOW_STEP) {
                            unsigned char wu[13];
                            h2_frame_head(wu, 4, 8, 0, 0);
                            unsigned v = (unsigned)c->unacked;
                            wu[9] = (unsigned char)(v >> 24), wu[10] = (unsigned char)(v >> 16);
                            wu[11] = (unsigned char)(v >> 8), wu[12] = (unsigned char)v;
                            if (send_all(c->fd, wu, 13) < 0) broken = 1;
                            c->unacked = 0;
                        }
                    }
                }
                if (off > 0) {
                    memmove(c->buf, c->buf + off, c->len - off);
                    c->len -= off;
                }
            }
            if (broken) {
                for (int j = c->first; j < c->first + c->count; j++) {
                    if (streams[j].st == S_WAITING) errors++;
                    else if (streams[j].st == S_OPEN) dropped++;
                    streams[j].st = S_GONE;
                }
                waiting -= c->waiting;
                c->waiting = 0;
                h2_abort(c);
            }
        }
        if (!holding) { /* connections whose streams take too long: errors */
            double t2 = now();
            for (int i = 0; i < launched; i++) {
                struct h2conn *c = &conns[i];
                if (c->fd >= 0 && c->waiting > 0 && t2 - c->started > OP_TIMEOUT) {
                    for (int j = c->first; j < c->first + c->count; j++) {
                        if (streams[j].st == S_WAITING) errors++;
                        else if (streams[j].st == S_OPEN) dropped++;
                        streams[j].st = S_GONE;
                    }
                    waiting -= c->waiting;
                    c->waiting = 0;
                    h2_abort(c);
                }
            }
        }
    }
    if (!holding) {
        printf("OPENED %d %.6f %d\n", opened, now() - t0, errors);
    }
    double *last = malloc((size_t)n * sizeof *last);
    if (!last) die("malloc");
    long last_n = 0;
    int alive = 0;
    for (int i = 0; i < n; i++) {
        if (streams[i].st == S_OPEN) alive++;
        if (streams[i].has_last) last[last_n++] = streams[i].last_late;
    }
    qsort(lat, (size_t)lat_n, sizeof *lat, cmp_double);
    qsort(last, (size_t)last_n, sizeof *last, cmp_double);
    double span = duration > 0.0 ? duration : 0.0;
    printf(
        "RESULT {\"opened\": %d, \"open_seconds\": %.6f, \"errors\": %d, \"dropped\": %d, "
        "\"alive\": %d, \"partial\": %s, \"window_seconds\": %.3f, \"events\": %ld, "
        "\"events_per_second\": %.3f, \"lateness_mean_ms\": %.3f, \"lateness_p50_ms\": %.3f, "
        "\"lateness_p99_ms\": %.3f, \"lateness_max_ms\": %.3f, \"last_tick_drift_median_ms\": "
        "%.3f, \"last_tick_drift_p99_ms\": %.3f, \"last_tick_drift_max_ms\": %.3f, "
        "\"connections\": %d, \"bad_frames\": %d}\n",
        opened, opened_at > 0.0 ? opened_at - t0 : now() - t0, errors, dropped, alive,
        partial ? "true" : "false", span, window_events,
        span > 0.0 ? (double)window_events / span : 0.0,
        lat_n ? lat_sum / (double)lat_n * 1e3 : 0.0, percentile(lat, lat_n, 0.5) * 1e3,
        percentile(lat, lat_n, 0.99) * 1e3, lat_n ? lat[lat_n - 1] * 1e3 : 0.0,
        percentile(last, last_n, 0.5) * 1e3, percentile(last, last_n, 0.99) * 1e3,
        last_n ? last[last_n - 1] * 1e3 : 0.0, nconns, bad_frames);
    fflush(stdout);
    for (int i = 0; i < nconns; i++) {
        h2_abort(&conns[i]);
        free(conns[i].buf);
    }
    free(conns);
    free(streams);
    free(lat);
    free(last);
    return 0;
}

/* ---- churn -------------------------------------------------------------------------- */

static int run_churn(long cycles, int concurrency, double limit) {
    struct conn *conns = calloc((size_t)concurrency, sizeof *conns);
    if (!conns) die("calloc");
    for (int i = 0; i < concurrency; i++) conns[i].fd = -1;
    double t0 = now(), deadline = t0 + limit;
    long started = 0, done = 0, errors = 0, bad_status = 0, rst = 0, fin = 0;
    int partial = 0;
    static char buf[4096];
    struct epoll_event evs[MAX_EVENTS];

    for (;;) {
        double t = now();
        if (t >= deadline) {
            partial = 1;
            break;
        }
        for (int i = 0; i < concurrency && started < cycles; i++) {
            if (conns[i].st != FREE) continue;
            long cycle = started++;
            if (start_connect(&conns[i], i) < 0) {
                errors++;
                conns[i].fd = -1;
                conns[i].st = FREE;
                continue;
            }
            conns[i].cycle = cycle;
        }
        int busy = 0;
        for (int i = 0; i < concurrency; i++) busy += conns[i].st != FREE;
        if (busy == 0 && started >= cycles) break;
        int k = epoll_wait(epfd, evs, MAX_EVENTS, 100);
        if (k < 0 && errno != EINTR) die("epoll_wait");
        for (int e = 0; e < k; e++) {
            struct conn *c = &conns[evs[e].data.u32];
            if (c->fd < 0) continue;
            if (c->st == CONNECTING) {
                if (on_connected(c, (int)evs[e].data.u32) < 0) {
                    abort_conn(c, 1);
                    errors++;
                }
                continue;
            }
            ssize_t r = recv(c->fd, buf, sizeof buf, 0);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (r <= 0) {
                errors++;
                abort_conn(c, 1);
                continue;
            }
            if (r >= 12 && strncmp(buf, "HTTP/1.1 200", 12) != 0) bad_status++;
            int reset = (c->cycle % 2) == 0;
            if (reset) rst++;
            else fin++;
            abort_conn(c, reset);
            done++;
        }
        double t2 = now();
        for (int i = 0; i < concurrency; i++) {
            if (conns[i].st != FREE && t2 - conns[i].started > OP_TIMEOUT) {
                abort_conn(&conns[i], 1);
                errors++;
            }
        }
    }
    double elapsed = now() - t0;
    for (int i = 0; i < concurrency; i++) abort_conn(&conns[i], 1);
    printf(
        "RESULT {\"cycles\": %ld, \"errors\": %ld, \"bad_status\": %ld, \"rst\": %ld, "
        "\"fin\": %ld, \"seconds\": %.6f, \"cycles_per_second\": %.3f, \"partial\": %s}\n",
        done, errors, bad_status, rst, fin, elapsed, elapsed > 0 ? (double)done / elapsed : 0.0,
        partial ? "true" : "false");
    fflush(stdout);
    free(conns);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: see the comment at the top of loadclient.c\n");
        return 2;
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(argv[2]));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only */
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) die("epoll_create1");
    if (strcmp(argv[1], "streams") == 0 && argc == 8) {
        return run_streams(atoi(argv[3]), atoi(argv[4]), atof(argv[5]), atof(argv[6]),
                           atof(argv[7]));
    }
    if (strcmp(argv[1], "h2streams") == 0 && argc == 9) {
        return run_h2streams(atoi(argv[3]), atoi(argv[4]), atof(argv[5]), atof(argv[6]),
                             atof(argv[7]), atoi(argv[8]));
    }
    if (strcmp(argv[1], "churn") == 0 && argc == 6) {
        return run_churn(atol(argv[3]), atoi(argv[4]), atof(argv[5]));
    }
    fprintf(stderr, "usage: see the comment at the top of loadclient.c\n");
    return 2;
}
