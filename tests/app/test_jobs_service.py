"""Lease expiry rules of `app.services.jobs`, on a real SQLite database."""

from datetime import timedelta

from sqlalchemy import select

from app.db import make_engine, make_sessionmaker, migrate
from app.models import DatasetVersion, Event, Job, now
from app.services.jobs import MAX_ATTEMPTS, requeue_expired


def _session(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    migrate(engine)
    return make_sessionmaker(engine)()


def _expired_generation(session, attempts):
    session.add(DatasetVersion(id="ds_x", name="x", content_key="k" * 64, status="pending", spec={},
                               registry_digest="d" * 64))
    session.add(Job(id="job_x", kind="generation", status="running", payload={}, dataset_id="ds_x",
                    attempts=attempts, lease_owner="api-1", lease_expires_at=now() - timedelta(seconds=1)))
    session.commit()


def test_expired_lease_requeues_and_keeps_the_version_pending(tmp_path):
    session = _session(tmp_path)
    _expired_generation(session, attempts=1)
    requeue_expired(session, "generation")
    assert session.get(Job, "job_x").status == "queued"
    assert session.get(DatasetVersion, "ds_x").status == "pending"


def test_giving_up_on_a_generation_job_fails_its_version(tmp_path):
    session = _session(tmp_path)
    _expired_generation(session, attempts=MAX_ATTEMPTS)
    requeue_expired(session, "generation")
    session.expire_all()
    assert session.get(Job, "job_x").status == "failed"
    version = session.get(DatasetVersion, "ds_x")
    # the version no longer claims to be coming; its error says why
    assert version.status == "failed" and "lease expired" in version.error
    assert {e.type for e in session.scalars(select(Event))} == {"job.failed", "dataset.failed"}
