"""Devices' accounts on the broker, kept by the service (SPEC §11): Mosquitto's dynamic security
plugin, driven over MQTT (``$CONTROL/dynamic-security/v1``) as MQTT_URL's own user, who is the
plugin's admin.

* One role per building: publish, subscribe and receive under ``koprogo/<org>/<building>/#``,
  and nothing else (the plugin denies by default).
* One client per ingest credential, with its building's role. Revoking deletes the client,
  which the broker disconnects at once.
* The service's own user gets the role it needs to ingest: every ``koprogo/#`` topic.

Each call waits for the plugin's answer (5 s at most): a credential is created, or revoked,
only once the broker enforces it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiomqtt

from ..config import MqttSettings
from ..domain.credentials import topic_prefix
from .mqtt import client as connect

__all__ = ["BrokerAccounts", "BrokerUnavailable"]

log = logging.getLogger(__name__)

CONTROL = "$CONTROL/dynamic-security/v1"
RESPONSES = f"{CONTROL}/response"
SERVICE_ROLE = "koprogo-service"
TIMEOUT = 5.0


class BrokerUnavailable(Exception):
    """The broker did not take the change (not connected, no answer, or an error)."""


def building_role(organization_id: uuid.UUID, building_id: uuid.UUID) -> str:
    return f"koprogo-building-{organization_id}-{building_id}"


def _acls(topic: str) -> list[dict[str, Any]]:
    return [
        {"acltype": kind, "topic": topic, "priority": 0, "allow": True}
        for kind in ("publishClientSend", "publishClientReceive", "subscribePattern")
    ]


class BrokerAccounts:
    """Owned by the app's lifespan: ``run`` keeps the admin connection."""

    def __init__(
        self,
        mqtt: MqttSettings,
        revoked: Callable[[], Awaitable[list[str]]] | None = None,
    ) -> None:
        """``revoked``: the usernames of revoked credentials, removed again at each
        connection (a revocation the broker could not be told of, a restored plugin file)."""
        if mqtt.username is None:
            raise ValueError("managing the broker's accounts needs MQTT_URL's user (its admin)")
        self.mqtt = mqtt
        self.revoked = revoked
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def run(self) -> None:
        backoff = 0.5
        while True:
            try:
                async with connect(self.mqtt, f"{self.mqtt.client_id}-accounts") as client:
                    await client.subscribe(RESPONSES, qos=1)
                    self._client = client
                    answers = asyncio.create_task(self._read_answers(client))
                    try:
                        if await self._grant_service_role():
                            # The broker disconnects a client whose roles change: the next
                            # connection has the role.
                            await answers
                            continue
                        self._connected.set()
                        backoff = 0.5
                        await self._forget_revoked()
                        await answers  # until the connection ends
                    finally:
                        answers.cancel()
            except aiomqtt.MqttError as exc:
                log.warning("broker accounts: connection ended (%s); again in %.1fs", exc, backoff)
            finally:
                self._connected.clear()
                self._client = None
                for waiting in self._waiting.values():
                    if not waiting.done():
                        waiting.set_exception(BrokerUnavailable("the broker connection was lost"))
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    async def ready(self) -> None:
        """Until accounts can be managed: the service's own role granted, which disconnects its
        user's clients once (the ingestor should connect after it)."""
        await self._connected.wait()

    async def _read_answers(self, client: aiomqtt.Client) -> None:
        try:
            async for message in client.messages:
                self._answer(message.payload)
        finally:  # the connection ended: nobody waits for an answer that cannot come
            for waiting in self._waiting.values():
                if not waiting.done():
                    waiting.set_exception(BrokerUnavailable("the broker connection was lost"))

    async def _forget_revoked(self) -> None:
        if self.revoked is None:
            return
        try:
            for username in await self.revoked():
                await self.remove(username)
        except Exception:
            log.exception("broker accounts: removing revoked credentials failed; next time")

    async def add(
        self, username: str, password: str, organization_id: uuid.UUID, building_id: uuid.UUID
    ) -> None:
        """A client that may publish and subscribe under its building's prefix only."""
        role = building_role(organization_id, building_id)
        prefix = topic_prefix(organization_id, building_id)
        await self._command(
            {"command": "createRole", "rolename": role, "acls": _acls(prefix + "#")},
            tolerate="already exists",
        )
        await self._command(
            {
                "command": "createClient",
                "username": username,
                "password": password,
                "roles": [{"rolename": role, "priority": 0}],
            }
        )

    async def remove(self, username: str) -> None:
        """Delete the client: the broker disconnects it and refuses it from now on."""
        await self._command({"command": "deleteClient", "username": username}, tolerate="not found")

    async def _grant_service_role(self) -> bool:
        """The service's own user ingests every organization's topics; True when the role was
        just granted (the broker then disconnects it, to apply it)."""
        try:
            found = await self._command(
                {"command": "getClient", "username": self.mqtt.username}, ready=False
            )
            client = (found.get("data") or {}).get("client") or {}
            if any(r.get("rolename") == SERVICE_ROLE for r in client.get("roles") or []):
                return False
            await self._command(
                {"command": "createRole", "rolename": SERVICE_ROLE, "acls": _acls("koprogo/#")},
                tolerate="already exists",
                ready=False,
            )
            try:
                await self._command(
                    {
                        "command": "addClientRole",
                        "username": self.mqtt.username,
                        "rolename": SERVICE_ROLE,
                        "priority": 0,
                    },
                    ready=False,
                )
            except BrokerUnavailable:
                pass  # disconnected as the role is applied: the next connection checks it
        except BrokerUnavailable:
            log.exception("broker accounts: could not grant the service its role")
            return False
        log.info("broker accounts: granted %s the role %s", self.mqtt.username, SERVICE_ROLE)
        return True

    async def _command(
        self, command: dict[str, Any], *, tolerate: str | None = None, ready: bool = True
    ) -> dict[str, Any]:
        """Send one command and wait for the plugin's answer; ``ready``: first wait until the
        connection is set up (the set-up's own commands do not)."""
        try:
            if ready:
                await asyncio.wait_for(self._connected.wait(), TIMEOUT)
        except TimeoutError:
            raise BrokerUnavailable("not connected to the broker") from None
        client = self._client
        if client is None:
            raise BrokerUnavailable("not connected to the broker")
        correlation = uuid.uuid4().hex
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[correlation] = answer
        try:
            # QoS 0: the plugin's answer is the acknowledgement (a QoS 1 PUBACK never comes
            # when the broker disconnects us as it applies a change to our own roles).
            await client.publish(
                CONTROL,
                json.dumps({"commands": [{**command, "correlationData": correlation}]}),
                qos=0,
            )
            response = await asyncio.wait_for(answer, TIMEOUT)
        except (TimeoutError, aiomqtt.MqttError) as exc:
            raise BrokerUnavailable(f"{command['command']}: no answer ({exc!r})") from None
        finally:
            self._waiting.pop(correlation, None)
        error = response.get("error")
        if error and not (tolerate and tolerate in str(error).lower()):
            raise BrokerUnavailable(f"{command['command']}: {error}")
        return response

    def _answer(self, payload: Any) -> None:
        try:
            responses = json.loads(payload)["responses"]
        except (ValueError, TypeError, KeyError):
            log.warning("broker accounts: an answer that is not the plugin's")
            return
        for response in responses if isinstance(responses, list) else ():
            if not isinstance(response, dict):
                continue
            waiting = self._waiting.get(str(response.get("correlationData")))
            if waiting is not None and not waiting.done():
                waiting.set_result(response)
