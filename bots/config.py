"""Per-payer bot configuration: ``selectors/<payer>.yaml`` loaded and validated with pydantic.

The schema is documented in ``selectors/README.md``. Credentials appear only as *references*
(environment variable names); :func:`load_payer_config` rejects anything that looks like a value.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from claimwright import datafiles
from claimwright.errors import SystemFault
from claimwright.settings import Settings
from claimwright.types import FaultCode

from .config_login import (
    IDENTIFIER_FIRST_LOCATORS,
    QUESTION_LOCATORS,
    CredentialsSection,
    EnvName,
    LoginSection,
    Strict,
)

PAYER_PATTERN = r"^[a-z][a-z0-9_-]{0,39}$"

#: Locator strategies, in the order of preference the README recommends.
STRATEGIES = ("role", "label", "placeholder", "text", "test_id", "css", "xpath")
#: The locators each portal flow needs are its module's ``REQUIRED_LOCATORS``
#: (``bots.portals``).
#: Locators the engine uses when present.
OPTIONAL_LOCATORS = ("captcha", "search_error", "otp", "submit_otp", "otp_error", "maintenance",
                     "documents_link", "submit_username", "security_question", "security_answer",
                     "submit_answer")
#: Locators required when ``credentials.totp_secret_env`` is set (the one-time-code step).
MFA_LOCATORS = ("otp", "submit_otp")
#: Locators required when the config has a ``status:`` section (claim/appeal status pages).
STATUS_LOCATORS = ("status_claim_number", "status_submit", "status_result", "status_not_found")


class ConfigError(SystemFault):
    """A payer config is missing or invalid: permanent until someone fixes the file."""

    code = FaultCode.BAD_CONFIG
    retryable = False


_Strict = Strict  # unknown keys rejected, values frozen (bots.config_login)


class LocatorSpec(_Strict):
    """One way to find an element: exactly one strategy key, plus modifiers."""

    role: str | None = None
    name: str | None = None        # accessible name, with ``role``
    label: str | None = None
    placeholder: str | None = None
    text: str | None = None
    test_id: str | None = None
    css: str | None = None
    xpath: str | None = None
    exact: bool = False            # exact (whole, case-sensitive) text/name match

    @model_validator(mode="after")
    def _one_strategy(self) -> LocatorSpec:
        used = [s for s in STRATEGIES if getattr(self, s) is not None]
        if len(used) != 1:
            raise ValueError(f"needs exactly one of {', '.join(STRATEGIES)} (got {used or 'none'})")
        if self.name is not None and self.role is None:
            raise ValueError("'name' is only allowed together with 'role'")
        for strategy in used:
            if not str(getattr(self, strategy)).strip():
                raise ValueError(f"{strategy!r} must not be empty")
        return self

    @property
    def strategy(self) -> str:
        return next(s for s in STRATEGIES if getattr(self, s) is not None)

    def describe(self) -> str:
        value = getattr(self, self.strategy)
        extra = f", name={self.name!r}" if self.name is not None else ""
        return f"{self.strategy}={value!r}{extra}"


LocatorChain = Annotated[list[LocatorSpec], Field(min_length=1)]


class PortalSection(_Strict):
    base_url: str
    base_url_env: EnvName | None = None
    login_path: str = "/login"
    search_path: str = "/"
    #: politeness: at least this many milliseconds between two requests of one session
    min_interval_ms: NonNegativeInt = 0
    #: how many browser sessions on this portal may run at once in one process (payers in parallel)
    max_sessions: PositiveInt = 1

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an absolute http(s) URL")
        return value.rstrip("/")

    @field_validator("login_path", "search_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value


class SearchSection(_Strict):
    date_format: str = "%m/%d/%Y"
    max_pages: PositiveInt = 200


class ResultsSection(_Strict):
    """How to read the results table: header text of each column the bot needs."""

    header_css: str = "thead th"
    row_css: str = "tbody tr"
    cell_css: str = "td, th"
    date_format: str = "%m/%d/%Y"
    #: key -> column header; the four below are required, flows may read more (e.g. ``check_number``)
    columns: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")], str]

    @field_validator("columns")
    @classmethod
    def _all_columns(cls, value: dict[str, str]) -> dict[str, str]:
        missing = {"remittance_id", "payment_date", "trace_number", "amount"} - set(value)
        if missing:
            raise ValueError(f"missing column(s): {', '.join(sorted(missing))}")
        return value


class StatusSection(_Strict):
    """The portal's claim-status and appeal-status pages (``bots.check_statuses``)."""

    claim_path: str = "/claims/status"
    appeal_path: str = "/appeals/status"
    date_format: str = "%m/%d/%Y"
    header_css: str = "thead th"
    row_css: str = "tbody tr"
    cell_css: str = "td, th"
    #: key -> column header of the result table; ``status`` and ``status_date`` are required,
    #: ``notes`` and ``appeal_number`` are read when configured
    columns: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")], str] = Field(
        default_factory=lambda: {"status": "Status", "status_date": "Status Date",
                                 "notes": "Notes"})

    @field_validator("claim_path", "appeal_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value

    @field_validator("columns")
    @classmethod
    def _status_columns(cls, value: dict[str, str]) -> dict[str, str]:
        missing = {"status", "status_date"} - set(value)
        if missing:
            raise ValueError(f"missing column(s): {', '.join(sorted(missing))}")
        return value


class DocumentsSection(_Strict):
    min_bytes: PositiveInt = 200
    max_bytes: PositiveInt = 50 * 1024 * 1024


class TimeoutsSection(_Strict):
    navigation_ms: PositiveInt = 30_000
    action_ms: PositiveInt = 5_000
    download_ms: PositiveInt = 60_000


class RetrySection(_Strict):
    """Bounded exponential backoff with jitter for transient faults of one step."""

    attempts: Annotated[int, Field(ge=1, le=10)] = 3
    backoff_initial_s: PositiveFloat = 1.0
    backoff_max_s: PositiveFloat = 20.0
    jitter_s: Annotated[float, Field(ge=0)] = 1.0
    #: open the circuit (stop the payer) after this many documents in a row failed with a
    #: transient fault that outlived its retries; a document taken resets the count
    circuit_breaker_after: Annotated[int, Field(ge=1, le=100)] = 3


class PayerConfig(_Strict):
    payer: Annotated[str, StringConstraints(pattern=PAYER_PATTERN)]
    display_name: str
    flow: str
    #: Settings of the flow itself (validated by the flow module's ``Options`` model, if any).
    flow_options: dict[str, Any] = Field(default_factory=dict)
    portal: PortalSection
    credentials: CredentialsSection
    login: LoginSection = LoginSection()
    search: SearchSection = SearchSection()
    results: ResultsSection
    documents: DocumentsSection = DocumentsSection()
    timeouts: TimeoutsSection = TimeoutsSection()
    retry: RetrySection = RetrySection()
    status: StatusSection | None = None
    locators: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")], LocatorChain]
    screenshot_mask: list[str] = Field(default_factory=list)
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("flow")
    @classmethod
    def _known_flow(cls, value: str) -> str:
        from .portals import flow_names

        if value not in flow_names():
            raise ValueError(f"unknown flow {value!r}; supported: {', '.join(flow_names())}")
        return value

    @model_validator(mode="after")
    def _locators_complete(self) -> PayerConfig:
        from .portals import get_flow

        flow = get_flow(self.flow)
        options = getattr(flow, "Options", None)
        if options is not None:
            try:
                options.model_validate(self.flow_options)
            except ValidationError as exc:
                raise ValueError("flow_options: " + "; ".join(
                    f"{_field_path(e['loc'])}: {e['msg']}" for e in exc.errors())) from None
        elif self.flow_options:
            raise ValueError(f"flow_options: flow {self.flow!r} takes no options")
        missing = [n for n in flow.REQUIRED_LOCATORS if n not in self.locators]
        if self.status is not None:
            missing += [n for n in STATUS_LOCATORS if n not in self.locators]
        mfa = self.mfa
        if mfa == "totp" and not self.credentials.has_totp:
            raise ValueError("login.mfa: totp needs credentials.totp_secret_env or "
                             "totp_secret_block")
        if mfa != "none":
            missing += [n for n in MFA_LOCATORS if n not in self.locators]
        if self.login.shape == "identifier-first":
            missing += [n for n in IDENTIFIER_FIRST_LOCATORS if n not in self.locators]
        if self.credentials.security_answers:
            missing += [n for n in QUESTION_LOCATORS if n not in self.locators]
        if missing:
            raise ValueError(f"locators: flow {self.flow!r} needs {', '.join(missing)}")
        unknown_mask = [n for n in self.screenshot_mask if n not in self.locators]
        if unknown_mask:
            raise ValueError(f"screenshot_mask: unknown locator(s) {', '.join(unknown_mask)}")
        return self

    @property
    def mfa(self) -> str:
        """The second factor: ``login.mfa``, else ``totp`` when a TOTP secret is named."""
        if self.login.mfa is not None:
            return self.login.mfa
        return "totp" if self.credentials.has_totp else "none"

    def resolve_base_url(self, override: str | None = None,
                         env: dict[str, str] | None = None) -> str:
        """Argument, else ``$<portal.base_url_env>``, else ``portal.base_url``."""
        env = os.environ if env is None else env
        url = override or (env.get(self.portal.base_url_env) if self.portal.base_url_env else None)
        url = url or self.portal.base_url
        if not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(f"{self.payer}: portal base URL {url!r} is not an http(s) URL",
                              payer=self.payer, field="portal.base_url")
        return url.rstrip("/")

    def with_overrides(self, **sections: dict[str, Any]) -> PayerConfig:
        """A copy with some sections' fields replaced, e.g. ``retry={"backoff_initial_s": 0.01}``."""
        data = self.model_dump()
        for section, values in sections.items():
            if isinstance(data.get(section), dict):
                data[section] = {**data[section], **values}
            else:
                data[section] = values
        return PayerConfig.model_validate({**data, "source": self.source})


def selectors_dir() -> Path:
    """``Settings.selectors_dir``: $CLAIMWRIGHT_SELECTORS_DIR or the project's ``selectors/``."""
    return Settings.from_env().selectors_dir


def configured_payers() -> list[str]:
    """Every payer with a ``selectors/<payer>.yaml`` (valid or not: a broken file must surface as
    that payer's review item, not make the payer vanish from the nightly run)."""
    return sorted(p.stem for p in selectors_dir().glob("*.yaml"))


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _looks_like_secret_key(key: str) -> bool:
    return key.lower() in {"password", "username", "user", "secret", "token", "otp_secret",
                           "totp_secret", "api_key", "answer", "code", "otp"}


def _reject_inline_credentials(data: Any, where: str, path: str = "") -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _looks_like_secret_key(key) and not isinstance(value, (dict, list)):
                if path.startswith("locators"):
                    continue
                raise ConfigError(f"{where}: {here}: credentials must not be written in the config; "
                                  "name an environment variable with *_env instead",
                                  file=where, field=here)
            _reject_inline_credentials(value, where, here)
    elif isinstance(data, list):
        for index, item in enumerate(data):
            _reject_inline_credentials(item, where, f"{path}[{index}]")


def parse_payer_config(data: Any, *, source: Path | str = "<config>") -> PayerConfig:
    """Validate already-loaded YAML data; errors name the file and the field."""
    where = str(source)
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping at the top level", file=where)
    _reject_inline_credentials(data, where)
    try:
        config = PayerConfig.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_field_path(err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise ConfigError(f"{where}: invalid payer config: " + "; ".join(problems), file=where,
                          fields=[_field_path(err["loc"]) for err in exc.errors()]) from None
    return config.model_copy(update={"source": Path(source)} if source != "<config>" else {})


def load_payer_config(payer_or_path: str | Path, *, directory: Path | None = None) -> PayerConfig:
    """Load ``<directory>/<payer>.yaml`` (default ``$CLAIMWRIGHT_SELECTORS_DIR`` or ``selectors/``),
    or a YAML file given by path."""
    text = str(payer_or_path)
    if isinstance(payer_or_path, Path) or text.endswith((".yaml", ".yml")):
        path = Path(payer_or_path)
        expected = None
    else:
        if not re.match(PAYER_PATTERN, text):
            raise ConfigError(f"{text!r} is not a valid payer name ({PAYER_PATTERN})", payer=text)
        path = (directory or selectors_dir()) / f"{text}.yaml"
        expected = text
    if not path.is_file():
        raise ConfigError(f"{path}: no payer config (expected selectors/<payer>.yaml)",
                          file=str(path))
    config = datafiles.load(path, _read_payer_config)  # re-read when the file changes
    if expected is not None and config.payer != expected:
        raise ConfigError(f"{path}: payer: says {config.payer!r} but the file is for {expected!r}",
                          file=str(path), field="payer")
    return config


def _config_error(problem: str, *, file: str, line: int | None = None,
                  field: str = "") -> ConfigError:
    where = f"{file}:{line}" if line else file
    return ConfigError(f"{where}: {field}: {problem}" if field else f"{where}: {problem}",
                       file=file, line=line, field=field)


def _read_payer_config(path: Path) -> PayerConfig:
    return parse_payer_config(datafiles.read_yaml(path, _config_error).data, source=path)
