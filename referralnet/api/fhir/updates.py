"""A PUT Task read back into one status move.

The receiving agency's (or the sending clinic's) system GETs the Task, changes `status` and, as
the new status needs, `statusReason` and `output`, and PUTs it back with `If-Match`. Everything
else must be as we sent it: a change elsewhere is 422 (we would otherwise drop it silently).
Server-kept elements are ignored: `meta`, `lastModified`, `businessStatus`, `text`. References
are compared without their `display`, date-times as instants.

Reading the new details:

- reason: a `statusReason.coding` from our referral-status-reason CodeSystem (any system is
  accepted if its code is one of ours), else `statusReason.text` that is a reason's code or label,
  else "other" with the text as free text. The free text is what follows "<label>: " in the text
  (the form we write), or the whole text when it is not the label itself.
- outcome: the `output` whose type is `outcome` (coding or text); its valueCodeableConcept's code,
  or a text that is an outcome's code or label.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from referralnet.api.fhir.common import FhirError
from referralnet.referrals.states import OUTCOME_LABELS, REASON_LABELS, REASONS, OUTCOMES, Status

IGNORED = ("meta", "lastModified", "businessStatus", "text")
CHANGEABLE = ("status", "statusReason", "output")


@dataclass
class Requested:
    status: str
    reason: Optional[str] = None
    reason_text: Optional[str] = None
    outcome: Optional[str] = None


def unprocessable(message: str, field: str = "task") -> FhirError:
    return FhirError(422, message, errors={field: [message]})


def check_unchanged(current: dict, incoming: dict) -> None:
    """422 naming every element that differs from `current`, other than the changeable ones."""
    keys = (set(current) | set(incoming)) - set(IGNORED) - set(CHANGEABLE) - {"resourceType", "id"}
    changed = sorted(k for k in keys if _normal(current.get(k)) != _normal(incoming.get(k)))
    if changed:
        raise FhirError(422, "Only status, statusReason and output can be changed; these differ from the "
                             "current Task: " + ", ".join(changed) + ".",
                        issue_code="business-rule", errors={k: ["Cannot be changed."] for k in changed})


def _normal(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items() if k != "display" and v not in (None, [], {}, "")} or None
    if isinstance(value, list):
        items = [_normal(v) for v in value]
        return [v for v in items if v is not None] or None
    if isinstance(value, str) and len(value) >= 20 and value[4:5] == "-" and "T" in value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return value
    return value if value not in ("",) else None


def _match_label(text: str, labels: dict[str, str], allowed) -> Optional[str]:
    folded = text.strip().casefold()
    for code in allowed:
        if folded in (code.casefold(), labels.get(code, "").casefold()):
            return code
    return None


def read_reason(body: dict, status: Status) -> tuple[Optional[str], Optional[str]]:
    reason_element = body.get("statusReason")
    if reason_element is None:
        return None, None
    if not isinstance(reason_element, dict):
        raise unprocessable("statusReason must be a CodeableConcept.", "reason")
    allowed = REASONS.get(status, ())
    text = reason_element.get("text")
    text = text.strip() if isinstance(text, str) else None
    code = None
    for coding in reason_element.get("coding") or []:
        if isinstance(coding, dict) and coding.get("code") in REASON_LABELS:
            code = coding["code"]
            break
    if not allowed:
        # No reason for this status (entered-in-error may say what the error was, in text).
        if code is not None:
            return code, text  # states.transition refuses it with a clear message
        return None, text
    if code is None and text:
        code = _match_label(text, REASON_LABELS, allowed)
        if code is not None:
            return code, None
        return "other", text
    if code is not None and text:
        label = REASON_LABELS.get(code, "")
        if text.casefold() == label.casefold():
            return code, None
        if text.casefold().startswith((label + ":").casefold()):
            return code, text[len(label) + 1:].strip() or None
        return code, text
    return code, None


def read_outcome(body: dict) -> Optional[str]:
    outputs = body.get("output")
    if outputs is None:
        return None
    if not isinstance(outputs, list):
        raise unprocessable("output must be a list.", "outcome")
    outcome = None
    for output in outputs:
        kind = (output or {}).get("type") or {}
        codes = [c.get("code") for c in kind.get("coding") or [] if isinstance(c, dict)]
        if "outcome" not in codes and (kind.get("text") or "").strip().casefold() != "outcome":
            raise unprocessable("Only an output of type “outcome” can be recorded (we keep no procedures).",
                                "outcome")
        value = output.get("valueCodeableConcept") or {}
        found = next((c.get("code") for c in value.get("coding") or []
                      if isinstance(c, dict) and c.get("code") in OUTCOMES), None)
        if found is None and value.get("text"):
            found = _match_label(value["text"], OUTCOME_LABELS, OUTCOMES)
        if found is None:
            raise unprocessable(f"The outcome must be one of: {', '.join(OUTCOMES)}.", "outcome")
        if outcome is not None and outcome != found:
            raise unprocessable("Give one outcome.", "outcome")
        outcome = found
    return outcome


def read_task(body: Any, task_id: int) -> Requested:
    """The move a PUT body asks for; FhirError 400 for a body that is not this Task, 422 for bad values."""
    if not isinstance(body, dict) or body.get("resourceType") != "Task":
        raise FhirError(400, "Send a Task resource as JSON.", issue_code="structure")
    if str(body.get("id")) != str(task_id):
        raise FhirError(400, "The Task's id must be the id in the URL.", issue_code="invalid")
    status = body.get("status")
    try:
        status_enum = Status(status)
    except ValueError:
        raise unprocessable(f"“{status}” is not a referral Task status "
                            f"({', '.join(s.value for s in Status)}).", "status") from None
    reason, reason_text = read_reason(body, status_enum)
    return Requested(status=status_enum.value, reason=reason, reason_text=reason_text, outcome=read_outcome(body))
