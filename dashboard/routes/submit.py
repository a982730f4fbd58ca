"""The page's forms. A bad value comes back as the same form with a message beside the field
(status 422, which the page swaps in); a good one as the form as sent, carrying the new row.
Sent without script (a plain form post), a good one goes on to the new task's page."""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dashboard.deps import LOGGED_IN, CurrentUser, ServicesDep
from dashboard.enqueue import BrokerUnavailable
from dashboard.forms import (
    FormState,
    empty_csv_form,
    empty_demo_form,
    empty_pi_form,
    kept_form,
    parse_csv_form,
    parse_demo_form,
    parse_pi_form,
)
from dashboard.models import TaskView
from dashboard.quotas import TooManyActive
from dashboard.submissions import CsvRequest, DemoRequest, PiRequest
from dashboard.taskstarts import start_csv, start_demo, start_pi

router = APIRouter(include_in_schema=False, dependencies=LOGGED_IN)
FormField = Annotated[str, Form()]


def _form_response(
    request: Request, services: ServicesDep, template: str, form: FormState
) -> Response:
    """htmx swaps the form in place. A browser without script (a plain form post) goes on to
    the new task's page, or gets the form on a page of its own to correct."""
    status = 503 if form.unavailable else 429 if form.refused else 422 if form.errors else 200
    if request.headers.get("HX-Request") == "true":
        context: dict[str, object] = {"form": form}
        return services.templates.TemplateResponse(request, template, context, status_code=status)
    if form.created is not None:
        return RedirectResponse(f"/tasks/{form.created.id}", status_code=303)
    context = {"form": form, "form_template": template}
    return services.templates.TemplateResponse(
        request, "start_form.html", context, status_code=status
    )


def _start(form: FormState, start: Callable[[], TaskView]) -> FormState:
    """A fresh form carrying the new task, or the reason it could not be queued."""
    try:
        form.created = start()
    except BrokerUnavailable as error:
        form.unavailable = str(error)
    except TooManyActive as error:
        form.refused = str(error)
    return form


@router.post("/tasks/pi", response_class=HTMLResponse)
def submit_pi(
    request: Request,
    services: ServicesDep,
    viewer: CurrentUser,
    digits: FormField = "",
    method: FormField = "chudnovsky",
    notify_email: FormField = "",  # absent when not ticked,
) -> Response:
    values = {"digits": digits, "method": method, "notify_email": notify_email}
    parsed = parse_pi_form(values)
    if not isinstance(parsed, PiRequest):
        return _form_response(request, services, "partials/pi_form.html", parsed)
    form = _start(kept_form(empty_pi_form(), values), lambda: start_pi(services, parsed, viewer))
    return _form_response(request, services, "partials/pi_form.html", form)


@router.post("/tasks/demo", response_class=HTMLResponse)
def submit_demo(
    request: Request,
    services: ServicesDep,
    viewer: CurrentUser,
    seconds: FormField = "",  # left empty, it is said to be (as the other forms do)
    should_fail: FormField = "random",
    notify_email: FormField = "",
) -> Response:
    values = {"seconds": seconds, "should_fail": should_fail, "notify_email": notify_email}
    parsed = parse_demo_form(values)
    if not isinstance(parsed, DemoRequest):
        return _form_response(request, services, "partials/demo_form.html", parsed)
    form = _start(
        kept_form(empty_demo_form(), values), lambda: start_demo(services, parsed, viewer)
    )
    return _form_response(request, services, "partials/demo_form.html", form)


@router.post("/tasks/csv", response_class=HTMLResponse)
def submit_csv(
    request: Request,
    services: ServicesDep,
    viewer: CurrentUser,
    rows: FormField = "",
    source: FormField = "sample",
    notify_email: FormField = "",
) -> Response:
    values = {"rows": rows, "source": source, "notify_email": notify_email}
    parsed = parse_csv_form(values)
    if not isinstance(parsed, CsvRequest):
        return _form_response(request, services, "partials/csv_form.html", parsed)
    form = _start(kept_form(empty_csv_form(), values), lambda: start_csv(services, parsed, viewer))
    return _form_response(request, services, "partials/csv_form.html", form)
