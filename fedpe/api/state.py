"""What the app holds for its lifetime: settings, the Prefect client, the Dask client (made on
first use), the store, the users, and the services built over them."""

from __future__ import annotations

import contextlib
import threading
import time

from fedpe.api.idempotency import SubmitTokens
from fedpe.api.settings import ApiSettings
from fedpe.auth.users import UserStore

#: Seconds after the API starts serving that it loads what a first submission needs (tools.warm).
WARM_UP_AFTER_S = 10.0


class AppState:
    def __init__(self, settings: ApiSettings):
        from blocks.store import StoreSpec
        from fedpe.api.services.outputs import Outputs
        from fedpe.api.services.scheduler import Scheduler

        self.settings = settings
        self.started = time.monotonic()
        self.users = UserStore(settings.home)
        self.submit_tokens = SubmitTokens(settings.home)
        self.scheduler = Scheduler(settings.scheduler_address)
        self.outputs = Outputs(StoreSpec(url=settings.store_url, storage_options=settings.store_options))
        self._stack = contextlib.AsyncExitStack()
        self.orchestrator = None
        self.jobs = None
        self.executions = None
        self.data = None
        self.streams = None
        self._warm_up: threading.Timer | None = None

    async def start(self) -> None:
        from prefect.client.orchestration import get_client

        from fedpe.api.services.data import Data
        from fedpe.api.services.executions import Executions
        from fedpe.api.services.jobs import Jobs
        from fedpe.api.services import tools
        from fedpe.api.services.orchestrator import Orchestrator
        from fedpe.api.streams import Hub

        client = await self._stack.enter_async_context(get_client())
        self.orchestrator = Orchestrator(client, self.settings.deployment_owner)
        self.jobs = Jobs(self.orchestrator, self.scheduler, self.submit_tokens, self.outputs)
        self.executions = Executions(self.orchestrator, self.scheduler, self.outputs, self.settings.mlflow_uri,
                                     jobs=self.jobs, submit_tokens=self.submit_tokens,
                                     prefect_ui_url=self.settings.prefect_ui_url)
        self.data = Data(self.executions, self.outputs)
        self.streams = Hub(self.executions, self.orchestrator, self.outputs)
        # Later than start-up, which it slowed (`fedpe up` of 3 hosts took 9.3-11.6 s against
        # 8.4-8.9 s when it ran at once); a daemon, so a stop does not wait for its imports.
        self._warm_up = threading.Timer(WARM_UP_AFTER_S, tools.warm)
        self._warm_up.daemon = True
        self._warm_up.start()

    async def stop(self) -> None:
        if self._warm_up is not None:
            self._warm_up.cancel()  # an app stopped within WARM_UP_AFTER_S needs no warm-up
        if self.streams is not None:
            await self.streams.close()
        await self._stack.aclose()
        self.scheduler.close()
