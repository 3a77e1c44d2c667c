"""The review console: a locked-down web app (sign-in, roles, CSRF) for the review queue.

Public API: :func:`create_app`, the dependencies :func:`current_user` and :func:`require`,
:func:`csrf_token`, :class:`Role`, :class:`ConsoleUser`, the users file
(:func:`load_users`, :func:`set_user`) and the password hashes (:func:`hash_password`,
:func:`verify_password`). docs/console.md describes it for admins.
"""

from .app import create_app, log_event
from .auth import ConsoleUser, csrf_token, current_user, require
from .passwords import hash_password, verify_password
from .users import Role, UsersFileError, load_users, set_user

__all__ = ["ConsoleUser", "Role", "UsersFileError", "create_app", "csrf_token", "current_user",
           "hash_password", "load_users", "log_event", "require", "set_user", "verify_password"]
