"""Logs never carry clear personal data (C9: the rater's information is confidential): phone
and ID numbers are masked in every line, whatever logged them and however."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from uvicorn.logging import AccessFormatter

from haochaping.logfilter import (
    MaskingFormatter,
    PersonalDataFilter,
    configure_logging,
    mask_personal_data,
)

PHONE, ID_NO, OLD_ID = "13812348000", "450224199001011234", "450224900101123"
CLEAR = (PHONE, ID_NO, OLD_ID, "45022419900101123X", "1234-8000")


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        (f"phone={PHONE}", "phone=138****8000"),
        ("手机号码：+8613812348000。", "手机号码：+86138****8000。"),
        ("tel 86-138-1234-8000", "tel 86-138****8000"),
        (f"证件号码 {ID_NO}", "证件号码 4502**********1234"),
        ("id=45022419900101123x;", "id=4502**********123x;"),
        (f"旧证 {OLD_ID} end", "旧证 4502*******1123 end"),
        (f'{{"phone": "{PHONE}", "id_no": "{ID_NO}"}}', ""),
    ],
)
def test_c9_phone_and_id_numbers_are_masked(line: str, masked: str) -> None:
    out = mask_personal_data(line)
    if masked:
        assert out == masked
    assert PHONE not in out and ID_NO not in out and OLD_ID not in out


@pytest.mark.parametrize(
    "line",
    [
        "case 45022420261120000123 saved",  # a 20-digit case number
        "took 1234567890123 µs",  # 13 digits, no phone inside
        "12812348000 is no mobile number",
        "port 8000, pid 13812, 2026-11-20T12:00:00+08:00",
    ],
)
def test_c9_other_numbers_are_left_alone(line: str) -> None:
    assert mask_personal_data(line) == line


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(PersonalDataFilter())
    log = logging.getLogger("tests.pii.logfilter")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        yield log, stream
    finally:
        log.removeHandler(handler)
        log.propagate = True


def _assert_masked(output: str) -> None:
    assert output
    for clear in CLEAR:
        assert clear not in output, output


def test_c9_filter_masks_message_and_arguments(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = logger
    log.info(f"rater {PHONE} rated")
    log.info("rater %s, id %s", PHONE, ID_NO)
    log.info("phone as a number %d", int(PHONE))
    log.info("mapping %(phone)s %(id)s", {"phone": PHONE, "id": "45022419900101123X"})
    log.info({"applicant": {"phone": PHONE, "id_no": OLD_ID}})
    out = stream.getvalue()
    _assert_masked(out)
    assert out.count("138****8000") == 5 and "4502**********1234" in out


def test_c9_filter_masks_exception_text_and_stack(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = logger
    try:
        raise ValueError(f"bad applicant {ID_NO} / {PHONE}")
    except ValueError:
        log.exception("upsert failed for %s", PHONE)
    log.info("where", stack_info=True, extra={"note": PHONE})
    out = stream.getvalue()
    _assert_masked(out)
    assert "ValueError: bad applicant 4502**********1234 / 138****8000" in out
    assert "Traceback" in out and "Stack (most recent call last)" in out


def test_c9_masking_formatter_masks_the_final_line() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", (ID_NO,), None)
    formatter = MaskingFormatter(logging.Formatter("%(message)s " + PHONE))
    assert formatter.format(record) == "4502**********1234 138****8000"


def test_c9_uvicorn_access_log_keeps_its_arguments() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(AccessFormatter('%(client_addr)s "%(request_line)s" %(status_code)s'))
    handler.addFilter(PersonalDataFilter(keep_args=True))
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/api/v1/cases?phone={PHONE}&id={ID_NO}", "1.1", 200),
        None,
    )
    handler.handle(record)
    out = stream.getvalue()
    _assert_masked(out)
    assert "phone=138****8000&id=4502**********1234" in out and "200" in out


def test_c9_configure_logging_covers_root_and_uvicorn_handlers() -> None:
    root = logging.getLogger()
    names = ("uvicorn.error", "uvicorn.access")
    saved_root, saved_level = root.handlers[:], root.level
    saved = {n: logging.getLogger(n).handlers[:] for n in names}
    # An earlier uvicorn.Config (the browser tests) may have left these loggers at WARNING.
    saved_levels = {n: logging.getLogger(n).level for n in names}
    streams = {n: io.StringIO() for n in ("root", *names)}
    try:
        root.handlers = [logging.StreamHandler(streams["root"])]
        for n in names:
            logging.getLogger(n).handlers = [logging.StreamHandler(streams[n])]
            logging.getLogger(n).propagate = False
            logging.getLogger(n).setLevel(logging.INFO)
        logging.getLogger("uvicorn.access").handlers[0].setFormatter(
            AccessFormatter('%(client_addr)s "%(request_line)s" %(status_code)s')
        )
        configure_logging("INFO")
        configure_logging("INFO")  # twice changes nothing
        for handler in (*root.handlers, *(logging.getLogger(n).handlers[0] for n in names)):
            assert sum(isinstance(f, PersonalDataFilter) for f in handler.filters) == 1
            assert isinstance(handler.formatter, MaskingFormatter)
            assert not isinstance(handler.formatter.inner, MaskingFormatter)

        logging.getLogger("haochaping.anything").info("rater %s", PHONE)
        logging.getLogger("uvicorn.error").error("bad id %s", ID_NO)
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", f"/x?p={PHONE}", "1.1", 200
        )
        for n, stream in streams.items():
            _assert_masked(stream.getvalue())
            assert "****" in stream.getvalue(), n
    finally:
        root.handlers, root.level = saved_root, saved_level
        for n in names:
            logging.getLogger(n).handlers = saved[n]
            logging.getLogger(n).propagate = True
            logging.getLogger(n).setLevel(saved_levels[n])
