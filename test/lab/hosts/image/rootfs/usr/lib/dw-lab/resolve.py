"""Load classes by dotted name the way nova does (oslo importutils.import_class, and for
compute_driver import_object_ns('nova.virt', name): 'nova.virt.<name>' first, then <name>).
Run as nova. Prints {name: {"class": "<module>.<qualname>"} | {"error": "..."}} as JSON."""
import json
import sys
import traceback


def import_class(name):
    mod, _, cls = name.rpartition(".")
    __import__(mod)
    try:
        return getattr(sys.modules[mod], cls)
    except AttributeError:
        raise ImportError("Class %s cannot be found (%s)" % (cls, traceback.format_exception(*sys.exc_info())[-1].strip()))


def resolve(name, namespace):
    candidates = (["%s.%s" % (namespace, name)] if namespace else []) + [name]
    last = None
    for c in candidates:
        try:
            k = import_class(c)
            return {"class": "%s.%s" % (k.__module__, k.__qualname__)}
        except (ImportError, ValueError) as e:
            last = "%s: %s" % (type(e).__name__, e)
    return {"error": last}


out = {}
args = sys.argv[1:]
namespace = None
if args and args[0].startswith("--namespace="):
    namespace = args.pop(0).split("=", 1)[1]
for name in args:
    out[name] = resolve(name, namespace)
print(json.dumps(out))
