/* demo_agent: the agent shipped in the demo and install tests' bundles.
 *
 * Its behaviour comes from the file ./behaviour in its slot (its cwd), so
 * a bundle decides whether the agent is healthy:
 *   good         sends READY=1 (and a STATUS=) on $NOTIFY_SOCKET, then waits
 *   crash        exits with status 3 at once
 *   never-ready  waits without ever sending READY=1
 * It logs one line per start to $AGENT_LOG if set ("start <slot> <version>"),
 * so tests can count launches.  Exits 0 on SIGTERM. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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

static void log_start(void)
{
	const char *path = getenv("AGENT_LOG");
	char line[256];
	int fd, n;

	if (!path)
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof line, "start %s %s %d\n", getenv("SLOTD_SLOT") ?: "?",
		     getenv("SLOTD_VERSION") ?: "?", (int)getpid());
	if (n > 0 && write(fd, line, (size_t)n) < 0)
		perror("demo_agent: log");
	close(fd);
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
	log_start();
	if (!strcmp(behaviour, "crash")) {
		fprintf(stderr, "demo_agent: crashing on purpose\n");
		return 3;
	}
	if (!strcmp(behaviour, "good") && notify("READY=1\nSTATUS=serving") < 0)
		fprintf(stderr, "demo_agent: notify: %s\n", strerror(errno));
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (sigwait(&set, &sig) != 0)
		return 1;
	return 0;
}
