"""The citizens' pages answer every refusal with a page in Chinese (never JSON, never a stack
trace) and send their security headers on every answer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, ClassVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from haochaping.errors import DomainError

log = logging.getLogger(__name__)


class ChinesePageRoute(APIRoute):
    """Subclasses say how a message page is drawn and with which words and headers."""

    page = "page"  # in log lines: "<page> refused with …"
    headers: ClassVar[Mapping[str, str]] = {}
    titles: ClassVar[Mapping[int, str]] = {}
    default_title = "暂时无法办理"
    invalid_text = "页面参数不正确。"
    busy: tuple[str, str] = ("系统繁忙", "系统暂时无法处理，请稍后再试。")

    def message(self, request: Request, status_code: int, title: str, text: str) -> Response:
        raise NotImplementedError

    def refuse(self, request: Request, exc: DomainError) -> Response | None:
        """A refusal answered otherwise than by a message page (None: the message page)."""
        return None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            response: Response
            try:
                response = await original(request)
            except DomainError as exc:
                special = self.refuse(request, exc)
                if special is not None:
                    response = special
                elif exc.status_code >= 500:
                    # A deployment problem (the key file…): the citizen is not told its details.
                    log.error("%s refused with %s: %s", self.page, exc.code, exc.message)
                    response = self.message(request, 500, *self.busy)
                else:
                    title = self.titles.get(exc.status_code, self.default_title)
                    response = self.message(request, exc.status_code, title, exc.message)
                    response.headers.update(getattr(exc, "headers", None) or {})
            except RequestValidationError:
                response = self.message(request, 422, "请求有误", self.invalid_text)
            except Exception:
                log.exception("%s failed on %s", self.page, request.method)
                response = self.message(request, 500, *self.busy)
            for name, value in self.headers.items():
                response.headers.setdefault(name, value)
            return response

        return handler
