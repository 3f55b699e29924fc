/* The floor for media CPU per call: a bare UDP echo in C with epoll and one recvfrom + one sendto per
 * packet, the way the simplest RTP relay would do it. `voicera-bench c-baseline` builds it, loads it with the
 * same packet rate as an echo call (50 packets/s of 172 bytes each way) and reports its CPU per flow; the
 * SIP echo bench is compared against this figure.
 *
 * Usage: udp_echo BASE_PORT COUNT   (binds 127.0.0.1:BASE_PORT, BASE_PORT+2, ... like RTP ports)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s BASE_PORT COUNT\n", argv[0]);
        return 2;
    }
    int base = atoi(argv[1]), count = atoi(argv[2]);
    int ep = epoll_create1(0);
    if (ep < 0) {
        perror("epoll_create1");
        return 1;
    }
    for (int i = 0; i < count; i++) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(base + 2 * i)};
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
            perror("bind");
            return 1;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    printf("ready\n");
    fflush(stdout);
    struct epoll_event events[256];
    char buf[2048];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            struct sockaddr_storage from;
            socklen_t len = sizeof from;
            ssize_t got = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
            if (got > 0) sendto(fd, buf, (size_t)got, 0, (struct sockaddr *)&from, len);
        }
    }
}
