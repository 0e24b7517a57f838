#!/bin/sh
# Ties a process group's life to the bench's. The bench spawns this script as the leader of a
# new process group, with one end of a socketpair on fd FD (the lifeline); the bench holds the
# other end and never writes to it. When the lifeline reads EOF the bench is gone, however it
# died (SIGKILL included: the kernel closes its end), or it let go on purpose after stopping
# the group; either way the whole group gets SIGKILL.
#
#   watchdog.sh run FD CMD [ARGS...]   start the watcher, then exec CMD: CMD keeps this pid (the
#                                      group id), so the bench sees CMD as its own child
#   watchdog.sh guard FD PGID          only the watcher, for a group started elsewhere (nginx)
#
# The watcher is forked twice so it is no child of CMD (descendants of CMD stay CMD's workers)
# but stays in this group. It ignores TERM/INT/HUP so a graceful stop sent to the group cannot
# take it away first. Every other fd passes through untouched (stdin, stdout, stderr, a Node
# IPC channel and its NODE_CHANNEL_FD): CMD runs as if the bench had spawned it directly.
set -u
mode=${1:-}
fd=${2:-}
case $fd in [3-9]) ;; *) echo "watchdog: lifeline fd must be 3..9, got '$fd'" >&2; exit 2 ;; esac
shift 2
case $mode in
  run) [ $# -gt 0 ] || { echo "watchdog: run needs a command" >&2; exit 2; }; target=0 ;;
  guard)
    case ${1:-} in '' | *[!0-9]*) echo "watchdog: guard needs a process group id, got '${1:-}'" >&2; exit 2 ;; esac
    target=-$1 ;;
  *) echo "usage: watchdog.sh run FD CMD [ARGS...] | guard FD PGID" >&2; exit 2 ;;
esac
# The watcher holds no fd but the lifeline: an IPC channel or output pipe it kept open would
# outlive CMD and hide CMD's exit from the bench.
others=''
for n in 3 4 5 6 7 8 9; do [ "$n" = "$fd" ] || others="$others $n<&-"; done
# No data ever arrives (the bench never writes): read returns only at EOF.
eval "( ( trap '' TERM INT HUP; while read -r _; do :; done <&$fd; kill -KILL $target ) </dev/null >/dev/null 2>&1 $others & )"
[ "$mode" = guard ] && exit 0
eval "exec $fd<&-"
exec "$@"
