"""How the federation's parties talk, and what each may say.

Dask trusts every peer that holds a certificate of the federation's CA: any of them may ask a
scheduler or a worker to run code, and its messages may carry pickles that run code as they are
read. fedpe narrows that to what a role needs. Each party is named by its certificate
(`identity`); every fedpe process speaks `fedpe://` (`transport`), whose comms read a host's
bytes with the strict decoder (`strict`): plain data only, nothing that runs code; a revoked
certificate fails the TLS handshake (`revocation`); role calls carry their payload in fedpe's
own codec (`codec`), which knows numbers, strings, lists, dicts and numeric arrays and nothing
else, through the scheduler's relay to a host named by name (`calls`).
"""
