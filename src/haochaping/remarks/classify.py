"""The automatic classification suggestion of a remark: keywords from the profile (P1), counted
in the text. Only a suggestion: the office that routes the remark decides (D2, D3)."""

from __future__ import annotations

from haochaping.policy.schemas import RemarkCategory, Remarks


def _hits(text: str, keywords: list[str]) -> int:
    folded = text.casefold()
    return sum(folded.count(word.casefold()) for word in keywords if word)


def suggest_category(text: str, policy: Remarks) -> RemarkCategory:
    """The category whose keywords occur most often; ties go to the earlier of complaint,
    inquiry, praise, suggestion (a complaint must not be lost as a suggestion); none: other."""
    order = (
        RemarkCategory.complaint,
        RemarkCategory.inquiry,
        RemarkCategory.praise,
        RemarkCategory.suggestion,
        RemarkCategory.other,
    )
    best, best_hits = RemarkCategory.other, 0
    for category in order:
        hits = _hits(text, policy.category_keywords.get(category, []))
        if hits > best_hits:
            best, best_hits = category, hits
    return best


def suggest_topic(text: str, policy: Remarks) -> str | None:
    """The code of the topic whose keywords occur most often (the first on a tie); None when
    no keyword occurs."""
    best, best_hits = None, 0
    for topic in policy.topics:
        hits = _hits(text, topic.keywords)
        if hits > best_hits:
            best, best_hits = topic.code, hits
    return best
