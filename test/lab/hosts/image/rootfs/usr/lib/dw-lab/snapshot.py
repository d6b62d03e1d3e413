"""What a lab service sees when it starts, run as the service's user (lab-service, via runuser):
each config file's text or the error opening it, the process's groups, and whether it may use
the Docker socket. Prints one JSON object."""
import errno
import grp
import json
import os
import pwd
import stat
import sys

DOCKER_SOCK = "/var/run/docker.sock"


def read(path):
    try:
        with open(path, "rb") as f:
            return {"path": path, "content": f.read().decode("utf-8", "replace")}
    except OSError as e:
        return {"path": path, "error": errno.errorcode.get(e.errno, str(e.errno)), "message": e.strerror}


def group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def docker_socket():
    try:
        st = os.stat(DOCKER_SOCK)
    except OSError:
        return {"exists": False, "socket": False, "access": False}
    return {
        "exists": True,
        "socket": stat.S_ISSOCK(st.st_mode),
        "access": os.access(DOCKER_SOCK, os.R_OK | os.W_OK),
    }


print(json.dumps({
    "user": pwd.getpwuid(os.getuid()).pw_name,
    "groups": sorted({group_name(g) for g in [os.getgid()] + os.getgroups()}),
    "files": [read(p) for p in sys.argv[1:]],
    "dockerSocket": docker_socket(),
}))
