"""How the federation's parties talk, and what each may say.

Dask trusts every peer that holds a certificate of the federation's CA: any of them may ask a
scheduler or a worker to run code, and its messages may carry pickles that run code as they are
read. fedpe narrows that to what a role needs. Each party is named by its certificate
(`identity`); messages from a host are read without pickles (`strict`) and carry plain data
only; role calls carry their payload in fedpe's own codec (`codec`), which knows numbers,
strings, lists, dicts and numeric arrays and nothing else (`calls`).
"""
