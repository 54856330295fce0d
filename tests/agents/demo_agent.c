/* demo_agent: the agent shipped in the demo's and the tests' bundles.
 *
 * Its behaviour comes from the file ./behaviour in its slot (its cwd), so a
 * bundle decides how the agent behaves:
 *   good         sends READY=1 (and STATUS=) on $NOTIFY_SOCKET, then waits
 *   crash        exits with status 3 at once
 *   crash-later  sends READY=1, then exits with status 4 after 0.4 s
 *   never-ready  waits without ever sending READY=1
 *   ignore-term  sends READY=1 and ignores SIGTERM (only SIGKILL ends it)
 *   orphans      double-forks 3 children that outlive it by 0.3 s, then as good
 *   http-ok      as good, and answers HTTP requests on 127.0.0.1 port
 *                $DEMO_AGENT_HTTP_PORT with "200 OK"
 *   http-error   the same, answering "500 Internal Server Error"
 *   http-slow    the same, but never answers (a connection is read and held)
 *   crash-3s     sends READY=1, then exits with status 5 after 3 s (a slot
 *                that passes its trial and then crash-loops)
 * With $AGENT_LOG set it appends "start SLOT VERSION PID REALTIME_NS" at start and
 * "signal N" for each signal it receives, so tests can count launches and
 * see forwarded signals.  Exits 0 on SIGTERM or SIGINT.
 * With $DEMO_AGENT_NO_PDEATHSIG set it clears the parent-death signal slotd
 * set, as an agent that resets it (or runs setuid) would: it then outlives a
 * killed slotd. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int notify(const char *message)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, rc;

	if (!path || strlen(path) >= sizeof addr.sun_path)
		return -1;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	rc = (int)sendto(fd, message, strlen(message), 0, (struct sockaddr *)&addr, sizeof addr);
	close(fd);
	return rc < 0 ? -1 : 0;
}

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
	const char *path = getenv("AGENT_LOG");
	char line[256];
	va_list ap;
	int fd, n;

	if (!path)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (n > 0 && write(fd, line, (size_t)n) < 0)
		perror("demo_agent: log");
	close(fd);
}

static void pause_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

static void leave_orphans(void)
{
	int i;

	for (i = 0; i < 3; i++) {
		pid_t child = fork();
		if (child == 0) {
			if (fork() == 0) {	/* the grandchild is the orphan */
				pause_ms(300);
				_exit(0);
			}
			_exit(0);
		}
		if (child > 0)
			waitpid(child, NULL, 0);
	}
}

static int http_listen(void)
{
	const char *port = getenv("DEMO_AGENT_HTTP_PORT");
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd, one = 1;

	if (!port) {
		fprintf(stderr, "demo_agent: DEMO_AGENT_HTTP_PORT is not set\n");
		return -1;
	}
	addr.sin_port = htons((uint16_t)atoi(port));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 8) < 0) {
		fprintf(stderr, "demo_agent: listen on port %s: %s\n", port, strerror(errno));
		return -1;
	}
	return fd;
}

/* One request: read what comes in one go, answer per behaviour.  http-slow
 * keeps the connection (the previous one is closed), never answering. */
static void http_answer(int listen_fd, const char *behaviour, int *held)
{
	static const char ok[] = "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
	static const char bad[] = "HTTP/1.0 500 Internal Server Error\r\n\r\n";
	char request[1024];
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	log_line("http request\n");
	if (read(fd, request, sizeof request) < 0)
		perror("demo_agent: read");
	if (!strcmp(behaviour, "http-slow")) {
		if (*held >= 0)
			close(*held);
		*held = fd;
		return;
	}
	if (!strcmp(behaviour, "http-ok") ? write(fd, ok, sizeof ok - 1) < 0 :
					     write(fd, bad, sizeof bad - 1) < 0)
		perror("demo_agent: write");
	close(fd);
}

/* Signals and HTTP requests, until SIGTERM or SIGINT. */
static int http_serve(const sigset_t *set, const char *behaviour)
{
	struct pollfd p[2] = { { .events = POLLIN }, { .events = POLLIN } };
	struct signalfd_siginfo info;
	int held = -1;

	p[0].fd = signalfd(-1, set, SFD_CLOEXEC);
	p[1].fd = http_listen();
	if (p[0].fd < 0 || p[1].fd < 0)
		return 1;
	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return 1;
		if (p[1].revents & POLLIN)
			http_answer(p[1].fd, behaviour, &held);
		if (!(p[0].revents & POLLIN) || read(p[0].fd, &info, sizeof info) != sizeof info)
			continue;
		log_line("signal %d\n", (int)info.ssi_signo);
		if (info.ssi_signo == SIGTERM || info.ssi_signo == SIGINT)
			return 0;
	}
}

int main(void)
{
	char behaviour[32] = "good";
	sigset_t set;
	int fd, n, sig;

	fd = open("behaviour", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = (int)read(fd, behaviour, sizeof behaviour - 1);
		behaviour[n > 0 ? n : 0] = '\0';
		behaviour[strcspn(behaviour, "\n")] = '\0';
		close(fd);
	}
	if (getenv("DEMO_AGENT_NO_PDEATHSIG") && prctl(PR_SET_PDEATHSIG, 0) < 0)
		perror("demo_agent: PR_SET_PDEATHSIG");
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	log_line("start %s %s %d %lld\n", getenv("SLOTD_SLOT") ?: "?", getenv("SLOTD_VERSION") ?: "?",
		 (int)getpid(), (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
	if (!strcmp(behaviour, "crash")) {
		fprintf(stderr, "demo_agent: crashing on purpose\n");
		return 3;
	}
	if (!strcmp(behaviour, "orphans"))
		leave_orphans();
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGQUIT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	/* Without a supervisor's socket there is nobody to tell. */
	if (strcmp(behaviour, "never-ready") && getenv("NOTIFY_SOCKET") &&
	    notify("READY=1\nSTATUS=serving") < 0)
		fprintf(stderr, "demo_agent: notify: %s\n", strerror(errno));
	if (!strcmp(behaviour, "crash-later")) {
		pause_ms(400);
		return 4;
	}
	if (!strcmp(behaviour, "crash-3s")) {
		pause_ms(3000);
		return 5;
	}
	if (!strncmp(behaviour, "http-", 5))
		return http_serve(&set, behaviour);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			return 1;
		log_line("signal %d\n", sig);
		if ((sig == SIGTERM && strcmp(behaviour, "ignore-term")) || sig == SIGINT)
			return 0;
	}
}
