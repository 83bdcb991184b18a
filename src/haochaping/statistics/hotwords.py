"""Hot words of bad-review text (G3: pain points and concentrated complaints), segmented with
``jieba``. A word counts once per review that uses it; each word links to its reviews."""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections import defaultdict

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.cases.models import Case
from haochaping.catalog.models import Region
from haochaping.evaluations.models import Evaluation
from haochaping.statistics.metrics import period_bounds
from haochaping.statistics.periods import Period
from haochaping.statistics.schemas import Dimension, HotWord
from haochaping.statistics.units import Unit

# The newest reviews read for one cloud; older ones add little to "what hurts now".
MAX_REVIEWS = 2000
# Words that say nothing about the service itself.
STOPWORDS = frozenset(
    [
        "一个",
        "一些",
        "一下",
        "一直",
        "一次",
        "不是",
        "不能",
        "不会",
        "不要",
        "不用",
        "也是",
        "了解",
        "什么",
        "今天",
        "他们",
        "以后",
        "以及",
        "但是",
        "你们",
        "作为",
        "其他",
        "出来",
        "办理",
        "办事",
        "可以",
        "可能",
        "各种",
        "告诉",
        "因为",
        "如果",
        "对于",
        "就是",
        "已经",
        "希望",
        "我们",
        "所以",
        "所有",
        "才能",
        "时候",
        "明天",
        "昨天",
        "有些",
        "有点",
        "有的",
        "没有",
        "然后",
        "现在",
        "由于",
        "的话",
        "直接",
        "看到",
        "知道",
        "而且",
        "自己",
        "觉得",
        "还是",
        "还有",
        "这个",
        "这些",
        "这样",
        "这种",
        "进行",
        "那个",
        "那些",
        "需要",
        "非常",
        "问题",
        "服务",
        "工作",
        "感觉",
        "一样",
        "东西",
        "地方",
        "事情",
        "情况",
    ]
)
_WORD = re.compile(r"^[\u4e00-\u9fff]{2,}$|^[A-Za-z]{3,}$")
_lock = threading.Lock()
_ready = False


def _cut(text: str) -> list[str]:
    global _ready
    import jieba

    if not _ready:
        with _lock:
            if not _ready:
                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _ready = True
    return [str(w) for w in jieba.lcut(text)]


@functools.lru_cache(maxsize=50_000)
def words_of(text: str) -> frozenset[str]:
    """The words of one review; remembered, since the same reviews are read again by every
    dashboard of the period (segmenting is most of a hot-word cloud's time)."""
    return frozenset(w for w in _cut(text) if _WORD.match(w) and w not in STOPWORDS)


def review_query(
    session: Session, access: Scope, unit: Unit, period: Period
) -> Select[int, str | None]:
    """Bad reviews with text, in the unit and period, inside the caller's scope, newest
    first; revoked ones are out (F1-F5)."""
    start, end = period_bounds(period)
    conds: list[ColumnElement[bool]] = [
        # Plainly the column, as the partial index ix_evaluations_bad_rated_at says it
        # (PostgreSQL does not read "is_bad IS TRUE" as implying it).
        Evaluation.is_bad.expression,
        Evaluation.text.is_not(None),
        Evaluation.text != "",
        Evaluation.revoked_at.is_(None),
        Evaluation.rated_at >= start,
        Evaluation.rated_at < end,
        _unit_clause(session, unit),
    ]
    if not access.everything:
        codes = list(session.scalars(access.region_codes())) if access.region_paths else None
        conds.append(access.case_clause(codes))
    return (
        select(Evaluation.id, Evaluation.text)
        .join(Case, Case.id == Evaluation.case_id)
        .where(*conds)
        .order_by(Evaluation.rated_at.desc(), Evaluation.id.desc())
    )


def _unit_clause(session: Session, unit: Unit) -> ColumnElement[bool]:
    if unit.dimension in (Dimension.region, Dimension.line, Dimension.item):
        code, _, ident = unit.key.partition(":")
        region = session.get_one(Region, code)
        # The subtree's codes as values: the planner then knows how much of the table they
        # cover (a province: all of it) and reads the period's bad reviews first.
        codes = list(
            session.scalars(
                select(Region.code).where(Region.path.startswith(region.path, autoescape=True))
            )
        )
        inside = Case.region_code.in_(codes)
        if unit.dimension is Dimension.line:
            return inside & (Case.line_id == int(ident))
        if unit.dimension is Dimension.item:
            return inside & (Case.item_id == int(ident))
        return inside
    column = {
        Dimension.org: Case.org_id,
        Dimension.window: Case.window_id,
        Dimension.staff: Case.staff_id,
    }[unit.dimension]
    return column == int(unit.key)


def hot_words(
    session: Session, access: Scope, unit: Unit, period: Period, *, top: int = 30
) -> list[HotWord]:
    counts: dict[str, list[int]] = defaultdict(list)
    rows = session.execute(review_query(session, access, unit, period).limit(MAX_REVIEWS))
    for evaluation_id, text in rows:
        for word in words_of(text or ""):
            counts[word].append(int(evaluation_id))
    ranked = sorted(counts.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:top]
    return [HotWord(word=w, count=len(ids), evaluation_ids=ids[:50]) for w, ids in ranked]


def reviews_with_word(
    session: Session, access: Scope, unit: Unit, period: Period, word: str, *, limit: int = 200
) -> list[Evaluation]:
    """The unit's bad reviews in the period whose text contains ``word``, newest first."""
    query = review_query(session, access, unit, period).where(
        Evaluation.text.contains(word, autoescape=True)
    )
    ids = [int(i) for i, _ in session.execute(query.limit(limit))]
    found = {e.id: e for e in session.scalars(select(Evaluation).where(Evaluation.id.in_(ids)))}
    return [found[i] for i in ids if i in found]
