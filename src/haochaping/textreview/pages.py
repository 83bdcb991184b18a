"""Console pages of the text review (E1): the list of bad reviews' texts, and the page where a
supervision office approves one or redacts what is published. Officials holding the
``texts:review`` permission only; everyone else gets the console's refusal page (403)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from haochaping.access.principal import Permission
from haochaping.clock import BEIJING
from haochaping.console.officials import Official, officials_with
from haochaping.console.pages import ConsoleRoute, templates
from haochaping.errors import InvalidInput
from haochaping.protection.ratelimit import RateLimit
from haochaping.textreview import service
from haochaping.textreview.models import ReviewStatus
from haochaping.textreview.schemas import STATUS_NAMES, TextReviewOut
from haochaping.web import NowDep, SessionDep

LIST = "/console/texts/"
PAGE_SIZE = 20

router = APIRouter(
    prefix="/console/texts",
    route_class=ConsoleRoute,
    include_in_schema=False,
    # The console's own budget, shared with its other pages (same name and rate).
    dependencies=[Depends(RateLimit("console", "300/minute"))],
)

ReviewId = Annotated[int, Path(ge=1, le=2**31 - 1)]
NOTICES = {
    "approved": "第 {id} 号差评文字已审核通过，按原文公开。",
    "redacted": "第 {id} 号差评文字已删改后通过，按删改后的内容公开。",
}


# A logged-in official allowed to review texts (E1).
_REVIEWERS = officials_with(
    "您没有差评文字审核的权限，如需使用请联系系统管理员", Permission.texts_review
)
ReviewerDep = Annotated[Official, Depends(_REVIEWERS.reader)]
ReviewerFormDep = Annotated[Official, Depends(_REVIEWERS.form)]
NoteField = Annotated[str, Form(max_length=500)]


def local_time(value: datetime | None) -> str:
    """Beijing time for people: 2026-11-25 10:00."""
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if value else ""


def _context(who: Official, **values: Any) -> dict[str, Any]:
    return {"user": who.user, "csrf_token": who.login.csrf_token, "local": local_time, **values}


@router.get("/", response_class=HTMLResponse)
def text_list(
    request: Request,
    session: SessionDep,
    now: NowDep,
    who: ReviewerDep,
    status: Annotated[str, Query(max_length=30)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    done: Annotated[str, Query(max_length=20)] = "",
    review: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> Response:
    if status and status not in STATUS_NAMES:
        raise InvalidInput("text_review_status_invalid", "审核状态不正确，请重新选择")
    total, items = service.list_reviews(
        session=session,
        scope=who.principal.scope,
        filters=service.ReviewFilter(status=ReviewStatus(status) if status else None),
        now=now,
        page=page,
        page_size=PAGE_SIZE,
        pending_first=True,
    )
    notice = NOTICES[done].format(id=review) if done in NOTICES and review else None
    return templates.TemplateResponse(
        request,
        "texts_list.html",
        _context(
            who,
            items=items,
            total=total,
            page=page,
            pages=max(1, -(-total // PAGE_SIZE)),
            status=status,
            statuses=STATUS_NAMES,
            notice=notice,
        ),
    )


def _review_page(
    request: Request,
    who: Official,
    review: TextReviewOut,
    *,
    text: str | None = None,
    kept: list[str] | None = None,
    note: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "texts_review.html",
        _context(
            who,
            review=review,
            pending=review.status is ReviewStatus.pending,
            # Prefilled with the suggestion: personal data and abusive words already masked.
            text=(review.suggested_text or "") if text is None else text,
            kept=[label.code for label in review.labels] if kept is None else kept,
            note=note,
            error=error,
        ),
        status_code=status_code,
    )


@router.get("/{review_id}", response_class=HTMLResponse)
def text_review(
    request: Request, review_id: ReviewId, session: SessionDep, now: NowDep, who: ReviewerDep
) -> Response:
    review = service.get_review(
        session=session, review_id=review_id, scope=who.principal.scope, now=now
    )
    return _review_page(request, who, review)


@router.post("/{review_id}/approve")
def approve_text(
    request: Request,
    review_id: ReviewId,
    session: SessionDep,
    now: NowDep,
    who: ReviewerFormDep,
    note: NoteField = "",
) -> Response:
    service.approve(
        session=session,
        review_id=review_id,
        actor=who.principal.actor,
        scope=who.principal.scope,
        now=now,
        ip=who.principal.ip,
        note=note.strip() or None,
    )
    session.commit()
    return RedirectResponse(f"{LIST}?done=approved&review={review_id}", status_code=303)


@router.post("/{review_id}/redact")
def redact_text(
    request: Request,
    review_id: ReviewId,
    session: SessionDep,
    now: NowDep,
    who: ReviewerFormDep,
    text: Annotated[str, Form(max_length=1000)] = "",
    labels: Annotated[list[str] | None, Form(max_length=30)] = None,
    note: NoteField = "",
) -> Response:
    # Browsers send a textarea's line breaks as CRLF; the rater's text has LF.
    text = text.replace("\r\n", "\n")
    kept = [code[:64] for code in labels or []]
    try:
        out = service.redact(
            session=session,
            review_id=review_id,
            actor=who.principal.actor,
            scope=who.principal.scope,
            now=now,
            text=text,
            label_codes=kept,
            ip=who.principal.ip,
            note=note.strip() or None,
        )
    except InvalidInput as exc:
        session.rollback()
        review = service.get_review(
            session=session, review_id=review_id, scope=who.principal.scope, now=now
        )
        return _review_page(
            request,
            who,
            review,
            text=text,
            kept=kept,
            note=note,
            error=exc.message,
            status_code=exc.status_code,
        )
    session.commit()
    return RedirectResponse(f"{LIST}?done={out.status.value}&review={review_id}", status_code=303)
