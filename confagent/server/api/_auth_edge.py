"""The auth edge of a member's client API: who a call is, and the calls of etcd's Auth service.

Both fronts say who calls by setting ``CALLER`` (``node._auth``) in the call's
context (the task serving it): the token it carried and, under
``--client-cert-auth``, its certificate's common name. The request handling asks
:meth:`AuthEdge.credentials`.

Rules (etcd 3.4's ``AuthInfoFromCtx``, ``Authenticate`` and the auth calls):

1. While auth is disabled nobody is asked who they are: credentials are ``None``
   and every check passes.
2. A token (gRPC metadata ``token`` or ``authorization``; the gateway's
   ``Authorization`` header) names its user, or is ``InvalidAuthToken`` when this
   member does not hold it (unknown, or unused past ``--auth-token-ttl``); the rest
   of ``node._auth`` rule 5.
3. Passwords are hashed and checked here with bcrypt at ``--bcrypt-cost``, in a
   worker thread (a check costs tens of milliseconds); the log holds only hashes.
   bcrypt is imported at the first password hashed or checked.
4. ``Authenticate`` wants auth enabled, the user and the password right
   (``AuthFailed``; a user added with no password has its own error), then goes
   through the log, whose entry makes the token (``node._auth`` rule 3).
5. The read calls (users, roles) answer from this member's state after a
   linearizable barrier, with etcd's checks: root, or a user asking about itself
   or a role it holds.
"""

from __future__ import annotations

import asyncio
import random

from confagent import auth
from confagent.auth import AuthInfo, Permission
from confagent.errors import AuthFailed
from confagent.server.node import StoreNode

__all__ = ["DEFAULT_BCRYPT_COST", "AuthEdge"]

DEFAULT_BCRYPT_COST = 10
"""etcd's ``--bcrypt-cost`` default (Go's ``bcrypt.DefaultCost``)."""


class AuthEdge:
    """A member's credentials and Auth service calls (module rules)."""

    def __init__(self, node: StoreNode, *, bcrypt_cost: int = DEFAULT_BCRYPT_COST,
                 rng: random.Random | None = None) -> None:
        self.node = node
        self.bcrypt_cost = bcrypt_cost
        self._rng = rng or random.SystemRandom()

    @property
    def state(self) -> auth.AuthState:
        return self.node.auth.state

    def credentials(self) -> AuthInfo | None:
        """The calling task's credentials (``node._auth`` rule 5).

        Raises:
            InvalidAuthToken: a token this member does not hold.
        """
        return self.node.auth.credentials()

    # -- Authenticate and the admin calls -----------------------------------------------
    async def authenticate(self, name: str, password: str) -> str:
        """A token for ``name`` (rule 4).

        Raises:
            AuthNotEnabled, AuthFailed, NoPasswordUser (a user added with no password: etcd's
                Unknown 'password was given for no password user'), or a refusal as it applies.
        """
        hashed, _ = auth.password_hash_of(self.state, name)
        import bcrypt  # noqa: PLC0415 - on the first password (rule 3)

        if not await asyncio.to_thread(bcrypt.checkpw, password.encode(), hashed):
            raise AuthFailed()
        self.credentials()  # as any call through the log, a token it carries must be good
        token = await self.node.propose_auth(auth.Authenticate(name, auth.new_token_prefix(self._rng)), None)
        assert token is not None, "an applied Authenticate makes a token"
        return token

    async def command(self, command: auth.Command) -> None:
        """Propose an admin ``command`` with the caller's credentials (root wanted at apply)."""
        await self.node.propose_auth(command, self.credentials())

    async def hashed(self, password: str) -> bytes:
        """bcrypt's hash of ``password`` at this member's cost (rule 3)."""
        import bcrypt  # noqa: PLC0415 - on the first password (rule 3)

        salt = bcrypt.gensalt(self.bcrypt_cost)
        return await asyncio.to_thread(bcrypt.hashpw, password.encode(), salt)

    # -- the read calls (rule 5) --------------------------------------------------------
    async def user_get(self, name: str) -> tuple[str, ...]:
        credentials = self.credentials()
        await self.node.linearizable_barrier()
        auth.check_user_get(self.state, credentials, name)
        return auth.user_get(self.state, name)

    async def user_list(self) -> tuple[str, ...]:
        credentials = self.credentials()
        await self.node.linearizable_barrier()
        auth.check_admin(self.state, credentials)
        return auth.user_list(self.state)

    async def role_get(self, role: str) -> tuple[Permission, ...]:
        credentials = self.credentials()
        await self.node.linearizable_barrier()
        auth.check_role_get(self.state, credentials, role)
        return auth.role_get(self.state, role)

    async def role_list(self) -> tuple[str, ...]:
        credentials = self.credentials()
        await self.node.linearizable_barrier()
        auth.check_admin(self.state, credentials)
        return auth.role_list(self.state)

    def check_admin(self) -> None:
        """Raises unless the caller may make the admin-only calls (maintenance, members)."""
        auth.check_admin(self.state, self.credentials())
