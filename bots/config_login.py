"""The ``login:`` and ``credentials:`` sections of a payer config (``bots.config`` holds the
rest of the schema; selectors/README.md documents it): which sign-in shape the portal has,
which second factor it asks for, and where the login and the security answers are kept."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

ENV_NAME_PATTERN = r"^[A-Z][A-Z0-9_]*$"
BLOCK_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"

EnvName = Annotated[str, StringConstraints(pattern=ENV_NAME_PATTERN)]
BlockName = Annotated[str, StringConstraints(pattern=BLOCK_NAME_PATTERN)]

#: Sign-in shapes (``login.shape``) and second factors (``login.mfa``).
LOGIN_SHAPES = ("one-page", "identifier-first")
MFA_KINDS = ("none", "totp", "sms", "email")
#: second factors whose code a person must read (from a phone or a mailbox) and enter
PERSON_CODES = ("sms", "email")
#: Locators required by ``login.shape: identifier-first`` (user name page, then password page).
IDENTIFIER_FIRST_LOCATORS = ("submit_username",)
#: Locators required by ``credentials.security_answers`` (a security question after sign-in).
QUESTION_LOCATORS = ("security_question", "security_answer", "submit_answer")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecurityAnswer(Strict):
    """One security question the portal may ask: the words that identify it (a substring of the
    question, case-insensitive) and where its answer is kept (variable and/or Secret block)."""

    question: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3)]
    answer_env: EnvName | None = None
    answer_block: BlockName | None = None

    @model_validator(mode="after")
    def _has_a_source(self) -> SecurityAnswer:
        if not (self.answer_env or self.answer_block):
            raise ValueError("name an environment variable (answer_env) or a Prefect Secret "
                             "block (answer_block) holding the answer")
        return self

    def source(self) -> str:
        return " or ".join(filter(None, [f"${self.answer_env}" if self.answer_env else "",
                                         f"Secret block {self.answer_block!r}"
                                         if self.answer_block else ""]))


class LoginSection(Strict):
    """How the portal signs in (``login:``): its shape and its second factor."""

    #: ``one-page``: user name and password on one form; ``identifier-first``: the user name
    #: page (``submit_username``: "Next"), then the password page.
    shape: Literal["one-page", "identifier-first"] = "one-page"
    #: ``totp``: the bot computes the code from ``credentials.totp_secret_*``; ``sms`` /
    #: ``email``: a code sent to a person, who enters it while the nightly flow waits;
    #: default: ``totp`` when a TOTP secret is named, else ``none``.
    mfa: Literal["none", "totp", "sms", "email"] | None = None
    #: how long the nightly flow waits for a person to enter an SMS / e-mail code (then the
    #: payer is skipped for the night); at most 30 min: portals expire codes sooner, and the
    #: pull holds its unit's 60-minute lease meanwhile
    code_timeout_s: Annotated[int, Field(ge=1, le=1800)] = 900


class CredentialsSection(Strict):
    """Where the login is kept — never the values: environment variable names (``*_env``) and/or
    Prefect Secret block names (``*_block``). When both are given, a set variable wins."""

    username_env: EnvName | None = None
    password_env: EnvName | None = None
    #: Variable holding the base32 TOTP (RFC 6238) secret when the portal asks for a one-time code.
    totp_secret_env: EnvName | None = None
    username_block: BlockName | None = None
    password_block: BlockName | None = None
    totp_secret_block: BlockName | None = None
    #: Answers to the portal's security questions, each by reference (never the answer itself).
    security_answers: list[SecurityAnswer] = Field(default_factory=list)

    @model_validator(mode="after")
    def _each_has_a_source(self) -> CredentialsSection:
        for item in ("username", "password"):
            if not (getattr(self, f"{item}_env") or getattr(self, f"{item}_block")):
                raise ValueError(f"{item}: name an environment variable ({item}_env) or a "
                                 f"Prefect Secret block ({item}_block)")
        return self

    def source(self, item: str) -> str:
        """Where ``item`` (username, password, totp_secret) comes from, for messages."""
        env, block = getattr(self, f"{item}_env"), getattr(self, f"{item}_block")
        return " or ".join(filter(None, [f"${env}" if env else "",
                                         f"Secret block {block!r}" if block else ""]))

    @property
    def has_totp(self) -> bool:
        return bool(self.totp_secret_env or self.totp_secret_block)
