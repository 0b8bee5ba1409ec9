"""Free local ports for a test's own servers, below the ephemeral range
(where no client socket can take one between this check and the server's
bind). One home for the suites that start brokers or stacks of their own
(tests/with_private_kafka.sh, tests/deploy).

    python3 tests/free_ports.py N   prints the first of N neighbouring free
                                    ports (an even number)
"""
import random
import socket
import sys

LOWEST = 22000  # above the fixed ports of the test and dev stacks (16479..19793)


def ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_block(n, tries=200):
    """The first of n neighbouring free ports; an even number, so a broker's
    port and its controller's (port + 1) pair up. Random, so suites running
    at once rarely try the same block."""
    rng = random.SystemRandom()
    top = ephemeral_low() - n
    for _ in range(tries):
        base = rng.randrange(LOWEST, top, 2)
        if all(port_free(p) for p in range(base, base + n)):
            return base
    raise RuntimeError(f"no {n} neighbouring free ports in {LOWEST}..{top + n}")


if __name__ == "__main__":
    try:
        print(free_block(int(sys.argv[1]) if len(sys.argv) > 1 else 1))
    except (RuntimeError, ValueError) as e:
        sys.exit(str(e))
