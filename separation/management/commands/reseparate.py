"""``manage.py reseparate [TRACK_ID ...] [--outdated | --all] [--dry-run]``: separate done
tracks again in the background (`separation.services.reseparation`), after a model upgrade
or its rollback (docs/deploy.md). It only queues them: the workers do the work, after every
upload waiting, and each track keeps its old stems until its new ones are stored."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

import engine as audio_engine
from separation.services.reseparation import jobs_reseparate, reseparation_candidates


class Command(BaseCommand):
    help = "Queue done tracks for separation again, in the background."

    def add_arguments(self, parser):
        parser.add_argument("track_ids", nargs="*", help="these tracks (their ids)")
        parser.add_argument(
            "--outdated",
            action="store_true",
            help="those whose stems another model or engine version made (or unknown)",
        )
        parser.add_argument("--all", action="store_true", help="every done track")
        parser.add_argument("--dry-run", action="store_true", help="count them; queue nothing")

    def handle(self, *args, track_ids, outdated, all, dry_run, **options):
        if not (track_ids or outdated or all):
            raise CommandError("Name tracks, or say --outdated or --all.")
        if all and (track_ids or outdated):
            raise CommandError("--all takes no track ids and no --outdated.")
        identity = audio_engine.model_identity()
        self.stdout.write(
            f"This release separates with model {identity['model']}, weights sha256 "
            f"{identity['weights_sha256'][:12]}…, engine {identity['engine']}."
        )
        try:
            job_ids = list(
                reseparation_candidates(track_ids=track_ids, outdated=outdated).values_list(
                    "id", flat=True
                )
            )
        except ValidationError as exc:
            raise CommandError(f"Not a track id: {exc.messages[0]}") from exc
        if dry_run:
            self.stdout.write(f"{len(job_ids)} track(s) would be separated again.")
            return
        queued = jobs_reseparate(job_ids=job_ids)
        self.stdout.write(
            f"Queued {len(queued)} track(s) for separation again, behind every upload; each "
            "keeps its stems until the new ones are stored."
        )
