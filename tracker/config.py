"""Configuration: one TOML file, validated once at start-up by pydantic.

Secrets are never written inline: a mailbox or relay names an environment
variable (``password_env``) or a file (``password_file``) holding the password.
Errors name the offending key, e.g. ``mailbox.0.port: Input should be a valid
integer``. Without a file, :func:`default_config` gives the embedded demo
set-up: SQLite under ``var/``, Maildir mailboxes, outgoing mail as files.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tracker.errors import ConfigError
from tracker.private_files import create_private_file

log = logging.getLogger(__name__)

TlsMode = Literal["implicit", "starttls", "none"]

#: Where the repository keeps its Jinja2 templates (an editable install is assumed).
REPO_ROOT = Path(__file__).resolve().parent.parent


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Credentials(_Strict):
    username: str | None = None
    password_env: str | None = None
    password_file: Path | None = None

    def password(self) -> str | None:
        """Read the secret at the moment it is needed, never store it in the model."""
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ConfigError(f"environment variable {self.password_env} is not set")
            return value
        if self.password_file:
            try:
                return self.password_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"cannot read password_file {self.password_file}: {exc}") from exc
        return None

    @model_validator(mode="after")
    def _one_secret(self) -> _Credentials:
        if self.password_env and self.password_file:
            raise ValueError("give either password_env or password_file, not both")
        return self


class DatabaseConfig(_Strict):
    url: str = "sqlite:///var/tracker.db"


class MailboxConfig(_Credentials):
    """A watched mailbox. ``kind = "maildir"`` reads ``path``; ``"imap"`` a server."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    kind: Literal["imap", "maildir"]
    address: str
    #: The partnership whose escalations arrive here, or several: then each new
    #: escalation's partnership is read from its recipient addresses.
    partnership: str | list[str]
    # IMAP
    host: str | None = None
    port: int | None = None
    tls: TlsMode = "implicit"
    ca_file: Path | None = None
    folder: str = "INBOX"
    processed_folder: str | None = "Processed"
    quarantine_folder: str | None = "Quarantine"
    idle: bool = True
    idle_timeout: float = Field(default=300.0, gt=0)
    poll_interval: float = Field(default=60.0, gt=0)
    batch_size: int = Field(default=200, gt=0)
    timeout: float = Field(default=60.0, gt=0)
    # Maildir
    path: Path | None = None

    @model_validator(mode="after")
    def _kind_fields(self) -> MailboxConfig:
        if self.kind == "imap":
            if not self.host:
                raise ValueError("an imap mailbox needs 'host'")
            if not self.username:
                raise ValueError("an imap mailbox needs 'username'")
            if not (self.password_env or self.password_file):
                raise ValueError("an imap mailbox needs 'password_env' or 'password_file'")
        if self.kind == "maildir" and self.path is None:
            raise ValueError("a maildir mailbox needs 'path'")
        return self

    @property
    def effective_port(self) -> int:
        if self.port:
            return self.port
        return 993 if self.tls == "implicit" else 143

    @property
    def partnership_names(self) -> list[str]:
        return [self.partnership] if isinstance(self.partnership, str) else list(self.partnership)


class OutgoingConfig(_Credentials):
    transport: Literal["smtp", "file"] = "file"
    host: str | None = None
    port: int | None = None
    tls: TlsMode = "starttls"
    ca_file: Path | None = None
    timeout: float = Field(default=30.0, gt=0)
    from_address: str = "escalations@localhost"
    directory: Path = Path("var/outbox")
    max_attempts: int = Field(default=8, gt=0)
    #: Also told (besides the business manager) when a notice to staff fails for good.
    alerts_address: str | None = None

    @model_validator(mode="after")
    def _transport_fields(self) -> OutgoingConfig:
        if self.transport == "smtp" and not self.host:
            raise ValueError("transport 'smtp' needs 'host'")
        return self

    @property
    def effective_port(self) -> int:
        if self.port:
            return self.port
        return {"implicit": 465, "starttls": 587, "none": 25}[self.tls]


class PartnershipConfig(_Strict):
    """Local settings for a partnership whose procedure is ``rules/<name>.yaml``.

    The rule file is the procedure; these override or add to it for one
    installation: another reference prefix, extra closure days, extra staff, extra intake addresses.
    """

    prefix: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,9}$")] | None = None
    display_name: str = ""
    domains: list[str] = Field(default_factory=list)
    #: Local closure days (e.g. 24 December) on top of the bank holidays.
    extra_closures: list[date] = Field(default_factory=list)
    #: Staff addresses besides those the rule file lists.
    staff: list[str] = Field(default_factory=list)
    #: Intake addresses besides those the rule file lists (this installation's aliases):
    #: how a mailbox serving several partnerships tells them apart.
    addresses: list[str] = Field(default_factory=list)
    #: A rule file other than ``<rules_dir>/<name>.yaml``.
    rules_file: Path | None = None


class SecurityConfig(_Strict):
    #: ``authserv-id`` values of our own receiving gateway; other
    #: Authentication-Results headers are ignored (they may be forged).
    trusted_authserv_ids: list[str] = Field(default_factory=list)
    #: Domains whose mail may carry a child's identifiers (secure routes).
    secure_domains: list[str] = Field(default_factory=list)
    #: Agency domains a look-alike sender might imitate (partnership domains are added).
    protected_domains: list[str] = Field(default_factory=list)


class FormsConfig(_Strict):
    """Escalation forms in bodies and attachments (Word, PDF, TNEF, .msg, forwarded mail)."""

    #: Larger attachments are recorded (size, sha256) and not opened.
    max_attachment_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    max_total_bytes: int = Field(default=40 * 1024 * 1024, gt=0)
    #: Each attachment is read in a worker process killed after this long.
    parse_timeout_seconds: float = Field(default=10.0, gt=0)
    #: The secret of the pseudonymous child key (HMAC): an environment variable or a
    #: file. Without either, ``<var_dir>/child-key.secret`` is created on first use.
    child_key_env: str | None = None
    child_key_file: Path | None = None


class LimitsConfig(_Strict):
    #: Automatic mails to one address per rolling hour; beyond that they are held.
    auto_mail_per_sender_per_hour: int = Field(default=5, ge=1)
    #: A message whose processing has crashed the daemon this many times is quarantined.
    max_processing_attempts: int = Field(default=3, ge=1)
    #: Overdue notices go out for deadlines that passed within this many days;
    #: older ones (a replayed or imported backlog) appear only in the roll-up.
    overdue_notice_window_days: int = Field(default=14, ge=1)
    #: Reading one message (parse, classify, forms) that takes longer than this is
    #: quarantined with reason "processing budget exceeded". Checked between the steps:
    #: each step is bounded on its own by linear-time patterns and size caps.
    processing_budget_seconds: float = Field(default=30.0, gt=0)


class PathsConfig(_Strict):
    var_dir: Path = Path("var")
    templates_dir: Path = REPO_ROOT / "templates"
    rules_dir: Path = REPO_ROOT / "rules"


class DigestsConfig(_Strict):
    """Business managers' digests (``tracker digest``; scheduled by the daemon when enabled).

    Schedules are crontab lines (``minute hour day month day_of_week``) in the
    partnership's time zone; an empty string schedules none of that kind. Each
    digest covers the time since the schedule's previous run.
    """

    enabled: bool = False
    daily: str = "0 8 * * mon-fri"
    weekly: str = "0 8 * * mon"
    #: Send a short "nothing new" digest when a period had nothing in it.
    send_empty: bool = False
    #: Partnerships that get digests (empty: every configured one).
    partnerships: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _schedules(self) -> DigestsConfig:
        from apscheduler.triggers.cron import CronTrigger

        for kind in ("daily", "weekly"):
            expression = getattr(self, kind)
            if expression:
                try:
                    CronTrigger.from_crontab(expression, timezone="UTC")
                except ValueError as exc:
                    raise ValueError(f"{kind}: not a crontab schedule: {exc}") from None
        return self


class ReportsConfig(_Strict):
    """Quarterly reports and the anonymised export.

    The pseudonym key (for ``tracker export --anonymised``) is a secret like a
    password: name an environment variable or a file, never write it here.
    """

    pseudonym_key_env: str | None = None
    pseudonym_key_file: Path | None = None
    #: Headless Chromium for the report's PDF (default: found on PATH).
    chromium: str | None = None

    def pseudonym_key(self, default_file: Path | None = None) -> bytes:
        """The key from the environment or a file; else one made once in ``default_file``."""
        if self.pseudonym_key_env:
            value = os.environ.get(self.pseudonym_key_env)
            if not value:
                raise ConfigError(f"environment variable {self.pseudonym_key_env} is not set")
            return value.encode("utf-8")
        if self.pseudonym_key_file:
            try:
                return self.pseudonym_key_file.read_bytes().strip()
            except OSError as exc:
                raise ConfigError(
                    f"cannot read pseudonym_key_file {self.pseudonym_key_file}: {exc.strerror}"
                ) from None
        if default_file is not None:
            return read_or_create_secret(default_file, "pseudonym key")
        raise ConfigError(
            "the anonymised export needs a pseudonym key: set reports.pseudonym_key_env "
            "or reports.pseudonym_key_file"
        )

    @model_validator(mode="after")
    def _one_key(self) -> ReportsConfig:
        if self.pseudonym_key_env and self.pseudonym_key_file:
            raise ValueError("give either pseudonym_key_env or pseudonym_key_file, not both")
        return self


class Config(_Strict):
    database: DatabaseConfig = DatabaseConfig()
    mailbox: list[MailboxConfig] = Field(default_factory=list)
    outgoing: OutgoingConfig = OutgoingConfig()
    partnerships: dict[str, PartnershipConfig] = Field(default_factory=dict)
    security: SecurityConfig = SecurityConfig()
    limits: LimitsConfig = LimitsConfig()
    forms: FormsConfig = FormsConfig()
    paths: PathsConfig = PathsConfig()
    digests: DigestsConfig = DigestsConfig()
    reports: ReportsConfig = ReportsConfig()

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        names = [m.name for m in self.mailbox]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"mailbox names must be unique: {', '.join(dupes)}")
        for i, m in enumerate(self.mailbox):
            for name in m.partnership_names:
                if name not in self.partnerships:
                    raise ValueError(
                        f"mailbox.{i}.partnership: {name!r} is not a configured "
                        f"partnership (known: {', '.join(sorted(self.partnerships)) or 'none'})"
                    )
        out = self.outgoing
        clear = (
            [("outgoing.tls", out.host)] if out.transport == "smtp" and out.tls == "none" else []
        )
        clear += [
            (f"mailbox.{i}.tls", m.host)
            for i, m in enumerate(self.mailbox)
            if m.kind == "imap" and m.tls == "none"
        ]
        for key, host in clear:
            if not is_loopback(host):
                raise ValueError(
                    f"{key}: 'none' would send credentials and mail in clear text to "
                    f"{host}; it is allowed only for a server on this machine (loopback)"
                )
            log.warning("%s = 'none': clear text, acceptable only for a local test server", key)
        return self

    def is_secure_route(self, address: str) -> bool:
        """May mail that identifies a child go to ``address``?

        Only to a domain in ``security.secure_domains`` (or a subdomain), and
        only when outgoing mail travels over verified TLS (never ``tls = "none"``).
        """
        out = self.outgoing
        if out.transport == "smtp" and out.tls == "none":
            return False
        domain = address.rpartition("@")[2].lower()
        return any(
            domain == d.lower() or domain.endswith("." + d.lower())
            for d in self.security.secure_domains
        )

    @property
    def own_addresses(self) -> frozenset[str]:
        """Addresses the tracker itself sends from or watches (never acknowledged)."""
        return frozenset(
            [self.outgoing.from_address.lower(), *(m.address.lower() for m in self.mailbox)]
        )


def is_loopback(host: str | None) -> bool:
    """Is ``host`` this machine: ``localhost``, 127.0.0.0/8 or ``::1``?"""
    if not host:
        return False
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def child_key_secret(config: Config) -> bytes:
    """The child-key secret: from the environment, a file, or one generated once per install.

    Losing it only means new keys stop matching old ones (cases about the same
    child are no longer linked); it never exposes a child. Mode 0600.
    """
    forms = config.forms
    if forms.child_key_env:
        value = os.environ.get(forms.child_key_env)
        if not value:
            raise ConfigError(f"environment variable {forms.child_key_env} is not set")
        return value.encode("utf-8")
    if forms.child_key_file is not None:
        try:
            secret = forms.child_key_file.read_bytes().strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read forms.child_key_file {forms.child_key_file}: {exc.strerror}"
            ) from None
        if len(secret) < 16:
            raise ConfigError(f"the child-key secret in {forms.child_key_file} is too short")
        return secret
    return read_or_create_secret(config.paths.var_dir / "child-key.secret", "child-key secret")


def own_header_secret(config: Config) -> bytes:
    """The key that signs our own header (:data:`ingest.classify.OWN_MAIL_HEADER`).

    Generated once per install in ``<var_dir>/own-header.secret`` (mode 0600).
    Losing it only means our earlier mail, if it came back, is no longer
    recognised by its header (its Message-ID still is); a daemon sharing the
    mailboxes must share the file.
    """
    return read_or_create_secret(config.paths.var_dir / "own-header.secret", "own-header key")


def read_or_create_secret(path: Path, what: str) -> bytes:
    """A local secret made once (32 random bytes, hex, mode 0600) and read ever after."""
    try:
        secret = path.read_bytes().strip()
    except FileNotFoundError:
        try:
            fd = create_private_file(path, exclusive=True)  # var/ 0700, the file 0600
        except FileExistsError:  # another daemon made it a moment ago
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(os.urandom(32).hex().encode("ascii"))
            log.info("generated a %s in %s", what, path)
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc.strerror}") from None
    if len(secret) < 16:
        raise ConfigError(f"the {what} in {path} is too short (16 bytes at least)")
    return secret


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  {loc}: {err['msg']}")
    return "\n".join(lines)


def parse_config(data: dict[str, Any], source: str = "<config>") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None


def load_config(path: Path) -> Config:
    """Read and validate a TOML file; relative paths in it are taken from its folder."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    config = parse_config(data, str(path))
    return _rebase(config, path.resolve().parent)


def _rebase(config: Config, base: Path) -> Config:
    """Make relative paths (Maildirs, var_dir, outbox, sqlite file) relative to ``base``."""

    def fix(p: Path | None) -> Path | None:
        return p if p is None or p.is_absolute() else base / p

    url = config.database.url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rel = url.removeprefix("sqlite:///")
        if rel and rel != ":memory:":
            url = "sqlite:///" + str(base / rel)
    return config.model_copy(
        update={
            "database": DatabaseConfig(url=url),
            "mailbox": [
                m.model_copy(
                    update={
                        "path": fix(m.path),
                        "ca_file": fix(m.ca_file),
                        "password_file": fix(m.password_file),
                    }
                )
                for m in config.mailbox
            ],
            "forms": config.forms.model_copy(
                update={"child_key_file": fix(config.forms.child_key_file)}
            ),
            "outgoing": config.outgoing.model_copy(
                update={
                    "directory": fix(config.outgoing.directory),
                    "ca_file": fix(config.outgoing.ca_file),
                    "password_file": fix(config.outgoing.password_file),
                }
            ),
            "paths": config.paths.model_copy(
                update={
                    "var_dir": fix(config.paths.var_dir),
                    "templates_dir": fix(config.paths.templates_dir),
                    "rules_dir": fix(config.paths.rules_dir),
                }
            ),
            "reports": config.reports.model_copy(
                update={"pseudonym_key_file": fix(config.reports.pseudonym_key_file)}
            ),
        }
    )


def default_config(base: Path) -> Config:
    """The embedded demo set-up rooted at ``base`` (usually the working directory)."""
    var = base / "var"
    return parse_config(
        {
            "database": {"url": f"sqlite:///{var / 'tracker.db'}"},
            "mailbox": [
                {
                    "name": "sscp",
                    "kind": "maildir",
                    "address": "sscp@solihull.gov.uk",
                    "partnership": "solihull",
                    "path": str(var / "mail" / "sscp"),
                },
                {
                    "name": "cpru",
                    "kind": "maildir",
                    "address": "cpru@solihull.gov.uk",
                    "partnership": "solihull",
                    "path": str(var / "mail" / "cpru"),
                },
            ],
            "outgoing": {
                "transport": "file",
                "directory": str(var / "outbox"),
                "from_address": "sscp@solihull.gov.uk",
            },
            "partnerships": {"solihull": {"staff": ["r.khan@solihull.gov.uk"]}},
            "security": {
                "secure_domains": ["solihull.gov.uk", "nhs.net", "gov.uk"],
                "protected_domains": ["solihull.gov.uk", "nhs.net", "westmidlands.police.uk"],
                # The demo's example gateway: staff commands count only when it vouches
                # (dmarc=pass) for the From domain, as the business manager's demo mail shows.
                "trusted_authserv_ids": ["mx.solihull.gov.uk"],
            },
            "paths": {"var_dir": str(var)},
        },
        "<embedded defaults>",
    )
