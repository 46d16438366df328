"""Users, API keys and access tokens of the fedpe API, kept in `FEDPE_HOME/api.db`.

Passwords and API keys are stored as argon2 hashes only. An API key is `fpk_<prefix>_<secret>`:
the prefix finds the row, the hash checks the secret. Access tokens are short-lived JWTs signed
with a secret generated once under `FEDPE_HOME` (mode 0600); a token issued before its user was
last revoked or given a new key is refused.
"""

from fedpe.auth.tokens import TokenClaims, issue_token, read_token
from fedpe.auth.users import User, UserStore

__all__ = ["TokenClaims", "User", "UserStore", "issue_token", "read_token"]
