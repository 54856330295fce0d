/* control.h: the line protocol on slotd's control socket, its one owner.
 *
 * Every request and reply is formatted and parsed here (slots/control_proto.c,
 * slots/control_status.c), by slotd, slotctl and slotupd alike; the client
 * side of the socket is slots/control_client.c.  docs/control-protocol.md
 * walks through it with the transport details.
 *
 * Transport: a SOCK_STREAM unix socket (mode 0660).  One request per
 * connection: the client sends one line, slotd answers one line and closes;
 * only `activate` keeps the connection until the trial's verdict.  A line is
 * at most CONTROL_LINE_MAX bytes with its newline, in both directions.
 * Peers are checked with SO_PEERCRED (root, admin_uid, updater_uid); anyone
 * else gets "error refused uid N is not allowed" before slotd reads a byte.
 * The socket file is not chowned: a non-root admin_uid or updater_uid also
 * needs write permission on it (a group, or a mode the deployment sets).
 *
 * Requests (words separated by blanks or tabs, a trailing \r dropped):
 *   status                 -> ok <status words, below> | error state <why>
 *   activate a|b           -> answered once the outcome is known:
 *                             ok good <version>       trial passed, committed
 *                             error health <reason>   reverted, the slot is bad
 *                                                     (also "rolled back by admin")
 *                             error busy <reason>     inhibitor held, slotd
 *                                                     stopping: nothing changed
 *                             error refused <reason>  not installed, a trial
 *                                                     runs, flip or commit failed
 *                             error state <why>       the state file unreadable
 *   rollback [--force]     -> ok current=a|b|none | error refused <reason>
 *   mark-good | mark-bad   -> ok current=a|b|none | error refused <reason>
 *   restart                -> ok
 * Every request but status may get "error busy slotd is stopping".  Any
 * request may get "error busy too many clients" (8 are served at once),
 * "error busy cannot watch the connection", the uid refusal, or
 * "error usage <what>": an unknown word, a missing or extra argument, a NUL
 * byte, a line over CONTROL_LINE_MAX, a line not sent within 5 s.  A
 * malformed request changes nothing.
 *
 * Replies: "ok" [" " text] or "error " kind [" " text], kind one of usage,
 * refused, busy, health, state.  Text is for people; programs act on the
 * kind (enum control_kind).  A text is at most CONTROL_TEXT_MAX - 1 bytes
 * decoded (slotd cuts a longer one), so every reply fits its line.
 *
 * The escaping rule, one for the whole protocol: in a reply's text the bytes
 * '%', 0x00-0x1f and 0x7f are written %xx (two lower-case hex digits); in a
 * status value the blank is too, since blanks separate the words.  Parsers
 * decode %xx (either case), refuse a bad or a %00 escape, and refuse a raw
 * control byte anywhere in a reply line.
 *
 * The status reply: "ok" then key=value words, single blanks, in this order
 *   current=a|b|none agent.pid=N agent.state=WORD agent.healthy=0|1
 *   agent.slot=a|b|none agent.status=TEXT trial=0|1
 *   a.status=WORD a.version=TEXT a.attempts=N a.reason=TEXT
 *   b.status=WORD b.version=TEXT b.attempts=N b.reason=TEXT
   agent.leftover=TEXT
 * Every key must be there exactly once, but for agent.leftover, which an
 * older slotd does not send (read as empty); an unknown key (a newer
 * slotd's) is skipped if it is a well-formed word of [a-z0-9._-].
 * agent.leftover is empty but while an agent of a previous slotd survives
 * SIGKILL (supervisor/slotd/leftover.c): it says which pid, the SIGKILLs
 * sent, and how long the launch still waits for it. */
#ifndef SLOTD_CONTROL_H
#define SLOTD_CONTROL_H

#include <stddef.h>
#include "error.h"
#include "layout.h"
#include "state.h"

#define CONTROL_LINE_MAX 4096		/* a request or reply line with its newline */
#define CONTROL_TEXT_MAX 1024		/* a reply's decoded text with its NUL */
#define CONTROL_AGENT_STATUS_MAX 128	/* agent.status (sd_notify STATUS=) with its NUL */
#define CONTROL_LEFTOVER_MAX 160	/* agent.leftover with its NUL */
#define CONTROL_WORD_SHOWN 40		/* of an unknown request word, in its usage error */

enum control_command {
	CONTROL_STATUS, CONTROL_ACTIVATE, CONTROL_ROLLBACK, CONTROL_ROLLBACK_FORCE,
	CONTROL_MARK_GOOD, CONTROL_MARK_BAD, CONTROL_RESTART
};

struct control_request {
	enum control_command command;
	int slot;		/* ACTIVATE: SLOT_A or SLOT_B */
};

enum control_kind {
	CONTROL_OK,		/* done */
	CONTROL_USAGE,		/* the request is malformed: nothing changed */
	CONTROL_REFUSED,	/* not allowed now, or this peer is not allowed */
	CONTROL_BUSY,		/* try again later: nothing changed */
	CONTROL_HEALTH,		/* the trial failed: the slot is bad, current is back */
	CONTROL_STATE		/* the state file could not be read */
};

struct control_reply {
	enum control_kind kind;
	char text[CONTROL_TEXT_MAX];	/* decoded; may hold control bytes: sanitise to print */
};

enum control_agent_state {
	CONTROL_AGENT_STOPPED, CONTROL_AGENT_RUNNING, CONTROL_AGENT_STOPPING,
	CONTROL_AGENT_BACKOFF,
	CONTROL_AGENT_UNSUPERVISED	/* "not supervised": slotctl's view when slotd is down */
};

struct control_slot_status {
	enum slot_status status;
	char version[STATE_VERSION_MAX];
	unsigned attempts;		/* launches of its trial so far */
	char reason[STATE_REASON_MAX];	/* why it is bad, else "" */
};

struct control_status {
	int current;			/* SLOT_A, SLOT_B or SLOT_NONE */
	struct {
		int pid;		/* while it runs or stops, else 0 */
		enum control_agent_state state;
		int healthy;		/* its slot is good */
		int slot;		/* the slot it runs from, SLOT_NONE unless running */
		char status[CONTROL_AGENT_STATUS_MAX];	/* its last STATUS= text */
		char leftover[CONTROL_LEFTOVER_MAX];	/* a previous slotd's survivor, or "" */
	} agent;
	int trial;			/* a trial runs */
	struct control_slot_status slot[SLOT_COUNT];
};

/* Names on the wire: "usage", "refused" ...; "stopped", "not supervised" ... */
const char *control_kind_name(enum control_kind kind);
const char *control_agent_state_name(enum control_agent_state state);
/* 0 and *state set for a name above; -1 for anything else. */
int control_agent_state_parse(const char *name, enum control_agent_state *state);

/* The escaping rule.  control_encode writes in (as a status value when
 * `word`, else as a reply text) into out; -1 if it does not fit in len.
 * control_decode decodes len bytes of in into out (NUL-terminated); -1 with
 * err naming `what` on a bad escape, %00, a raw control byte, or when the
 * result does not fit in out_len. */
int control_encode(const char *in, int word, char *out, size_t len);
int control_decode(const char *in, size_t len, char *out, size_t out_len, const char *what,
		   struct error *err);

/* Requests.  format writes the line without its newline; -1 for a request
 * that is not one (an activate of no slot) or a buffer too small.  parse
 * takes the line without its newline (len bytes, NULs included); -1 with
 * err's text fit to send back as "error usage <text>". */
int control_request_format(const struct control_request *r, char *line, size_t len,
			   struct error *err);
int control_request_parse(const char *line, size_t len, struct control_request *r,
			  struct error *err);

/* Replies.  format: -1 if the line would not fit in len or CONTROL_LINE_MAX
 * - 1 bytes (never with a text shorter than CONTROL_TEXT_MAX).  parse: -1
 * with err on anything outside the grammar above. */
int control_reply_format(const struct control_reply *r, char *line, size_t len,
			 struct error *err);
int control_reply_parse(const char *line, size_t len, struct control_reply *r,
			struct error *err);

/* The status reply.  format writes the whole "ok ..." line (it always fits
 * CONTROL_LINE_MAX).  parse takes slotd's answer to `status`: 0 with
 * reply->kind CONTROL_OK and *status filled, or 0 with an error kind in
 * *reply (status untouched); -1 with err when the line is malformed. */
int control_status_format(const struct control_status *s, char *line, size_t len,
			  struct error *err);
int control_status_parse(const char *line, size_t len, struct control_status *s,
			 struct control_reply *reply, struct error *err);

/* The client.  control_exchange sends `line` plus a newline and reads the
 * reply line into reply, NUL-terminated, newline stripped; a line longer
 * than reply_len - 1 is cut.  Returns the reply's length (it may hold NUL
 * bytes, which the parsers refuse); -1 on a transport error: cannot connect,
 * no reply in time (timeout_ms bounds the whole exchange, 0: none), closed
 * without a reply, a request too long or multi-line.  control_call and
 * control_call_status format the request and parse the reply: 0 means slotd
 * answered within the protocol (check reply->kind), -1 a transport error or
 * a reply outside the protocol (err says which). */
int control_exchange(const char *socket_path, const char *line, char *reply, size_t reply_len,
		     unsigned timeout_ms, struct error *err);
int control_call(const char *socket_path, const struct control_request *request,
		 struct control_reply *reply, unsigned timeout_ms, struct error *err);
int control_call_status(const char *socket_path, struct control_status *status,
			struct control_reply *reply, unsigned timeout_ms, struct error *err);

#endif
