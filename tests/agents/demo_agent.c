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
#include <sys/prctl.h>
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
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			return 1;
		log_line("signal %d\n", sig);
		if ((sig == SIGTERM && strcmp(behaviour, "ignore-term")) || sig == SIGINT)
			return 0;
	}
}
