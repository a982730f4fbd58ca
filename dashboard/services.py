"""The handles one web process shares between requests, made in the app's lifespan."""

from dataclasses import dataclass

from celery import Celery
from fastapi.templating import Jinja2Templates
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from sqlalchemy import Engine

from dashboard.eventresponse import SendWatch
from dashboard.fleetwatcher import FleetWatcher
from dashboard.hub import EventHub
from dashboard.sampler import HostSampler
from dashboard.settings import Settings


@dataclass
class Services:
    settings: Settings
    engine: Engine
    redis: Redis
    async_redis: AsyncRedis
    celery: Celery
    templates: Jinja2Templates
    hub: EventHub
    sampler: HostSampler
    fleet: FleetWatcher
    send_watch: SendWatch
