"""The last module the runner's fork server imports (deployments/fast_start.py PRELOAD): it moves
every object imported before it out of the garbage collector's reach (`gc.freeze`), so that the
flow runs forked from the server never scan them.

The preload is about 360,000 objects. In a child forked from a server holding them, one full
collection took 272 ms of CPU (0.0 ms frozen), and a flow run allocates enough to set off full
collections (py-spy put 0.26 s of each 25-host training's flow run in a `json.loads` of a 21 KB
answer, which alone takes 0.3 ms). Frozen, Running to the end of round 1 took 1.14-1.50 s
against 1.35-1.68 s (25 hosts, interleaved). A collection also writes to every object it scans, which
copies the server's pages into each child; frozen objects stay shared. This is the use Python's
documentation gives `gc.freeze` (a server that forks without exec).
"""

import gc

gc.collect()  # what the imports left behind is freed, not frozen
gc.freeze()
