# moto_server with IAM enforced the way AWS authorises Sluice's calls (run by sluice_testkit::iam).
#
# moto checks a request's action against the caller's policies once INITIAL_NO_AUTH_ACTION_COUNT requests
# have been served, but for most services it checks the action against the resource "*", which no
# resource-scoped statement (a table ARN, a topic ARN) matches. This wrapper gives each request the
# (action, resource) pairs AWS evaluates for it, then runs moto's own policy evaluation on each pair:
#   DynamoDB   the table ARN, or table/<t>/index/<i> for an index query; BatchGetItem/BatchWriteItem once
#              per table; a TransactWriteItems as the PutItem/UpdateItem/DeleteItem/ConditionCheckItem
#              actions it contains (transactions are not IAM actions); TransactGetItems as GetItem.
#   SNS        Publish on its TopicArn/TargetArn.
#   EventBridge PutEvents on each entry's bus ARN (the default bus when an entry names none).
#   Secrets    the secret's ARN, whether the request names it by name or by ARN.
#   SQS, S3    moto's own resource (queue ARN, bucket/key ARN).
# The signature is checked against the body as it arrived (moto re-encodes a parsed form body, which differs from
# what the Rust SDK signed when a value has spaces or punctuation). Requests are served one at a time, as by
# MotoServer::start_serial: moto applies conditional writes without a lock.
# Denials answer as the service does (AccessDeniedException in JSON protocols). Every pair evaluated after
# the unauthenticated start is appended to $SLUICE_MOTO_IAM_LOG as "key id <TAB> action <TAB> resource
# <TAB> allowed|denied", so tests can compare what a policy grants with what the code used.
#
# argv: host port
import io
import json
import os
import signal
import sys
import threading
from urllib.parse import urlparse

from moto import settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import AccessDeniedError, JsonRESTError, _RESTError
from moto.dynamodb.responses import DynamoHandler
from moto.events.responses import EventsHandler
from moto.secretsmanager.responses import SecretsManagerResponse
from moto.sns.responses import SNSResponse

LOG_PATH = os.environ["SLUICE_MOTO_IAM_LOG"]
LOG_LOCK = threading.Lock()
RAW_BODY = "sluice.raw_body"
JSON_SERVICES = {"dynamodb", "events", "secretsmanager", "sqs"}


class QueryError(_RESTError):
    """An error as the query-protocol services (SNS) answer it: one Error element, not moto's Errors list."""

    code = 403

    def __init__(self, error_type, message):
        super().__init__(error_type, message)
        from xmltodict import unparse

        error = {"Type": "Sender", "Code": error_type, "Message": message}
        body = {"ErrorResponse": {"Error": error, "RequestId": "sluice-moto-iam"}}
        self.description = unparse(body, full_document=True)


def log(key_id, action, resource, outcome):
    with LOG_LOCK, open(LOG_PATH, "a", encoding="utf-8") as f:
        f.write(f"{key_id}\t{action}\t{resource}\t{outcome}\n")


def credential_scope(headers):
    auth = headers.get("Authorization", "")
    start = auth.find("Credential=")
    if start < 0:
        return ["", "", "", ""]
    return auth[start + len("Credential=") :].split(",", 1)[0].split("/")


def request_json(self):
    body = self.body
    if isinstance(body, dict):
        return body
    try:
        return json.loads(body or "{}")
    except (TypeError, ValueError):
        return {}


def default_checks(self, resource):
    return [(self._get_action(), resource)]


def authorize(self, iam_request_cls, resource="*"):
    if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
        ActionAuthenticatorMixin.request_count += 1
        return
    parsed_url = urlparse(self.uri)
    path = self.raw_path
    if parsed_url.query:
        path += "?" + parsed_url.query
    scope = credential_scope(self.headers)
    key_id, service = scope[0], scope[3] if len(scope) > 3 else ""
    checks = getattr(self, "_sluice_checks", default_checks)(self, resource)
    request_environ = getattr(getattr(self, "normalized_request", None), "environ", {})
    body = request_environ.get(RAW_BODY) or self.raw_body
    signature_checked = False
    for action, target in checks:
        request = iam_request_cls(
            account_id=self.current_account,
            method=self.method,
            path=path,
            data=self.data,
            body=body,
            headers=self.headers,
            action=action,
        )
        if not signature_checked:
            request.check_signature()
            signature_checked = True
        qualified = f"{service}:{action}"
        try:
            request.check_action_permitted(target)
        except AccessDeniedError as denied:
            log(key_id, qualified, target, "denied")
            message = (
                f"User: {request._access_key.arn} is not authorized to perform: {qualified} "
                f"on resource: {target}"
            )
            if service in JSON_SERVICES:
                raise JsonRESTError("AccessDeniedException", message, code=400) from denied
            if service == "sns":
                raise QueryError("AuthorizationError", message) from denied
            raise
        log(key_id, qualified, target, "allowed")


def dynamodb_checks(self, resource):
    action = self._get_action()
    body = request_json(self)
    region, account = self.region, self.current_account

    def table(name):
        if name.startswith("arn:"):
            return name
        return f"arn:aws:dynamodb:{region}:{account}:table/{name}"

    if action == "TransactWriteItems":
        kinds = {
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem",
        }
        checks = []
        for item in body.get("TransactItems", []):
            for kind, iam_action in kinds.items():
                if kind in item:
                    checks.append((iam_action, table(item[kind]["TableName"])))
        return checks
    if action == "TransactGetItems":
        return [("GetItem", table(i["Get"]["TableName"])) for i in body.get("TransactItems", [])]
    if action in ("BatchGetItem", "BatchWriteItem"):
        return [(action, table(name)) for name in body.get("RequestItems", {})]
    name = body.get("TableName")
    if not name:
        return [(action, resource)]
    arn = table(name)
    if body.get("IndexName"):
        arn += "/index/" + body["IndexName"]
    return [(action, arn)]


def sns_checks(self, resource):
    action = self._get_action()
    if action == "Publish":
        return [(action, self._get_param("TopicArn") or self._get_param("TargetArn") or resource)]
    return [(action, resource)]


def events_checks(self, resource):
    action = self._get_action()
    if action != "PutEvents":
        return [(action, resource)]
    entries = request_json(self).get("Entries", [])
    checks = []
    for entry in entries:
        bus = entry.get("EventBusName") or "default"
        if not bus.startswith("arn:"):
            bus = f"arn:aws:events:{self.region}:{self.current_account}:event-bus/{bus}"
        checks.append((action, bus))
    return checks or [(action, resource)]


def secrets_checks(self, resource):
    secret_id = self._get_param("SecretId")
    if secret_id:
        try:
            resource = self.backend.describe_secret(secret_id).arn
        except Exception:  # an unknown secret: AWS authorises against the ARN asked for
            resource = secret_id
    return [(self._get_action(), resource)]


ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize
DynamoHandler._sluice_checks = staticmethod(dynamodb_checks)
SNSResponse._sluice_checks = staticmethod(sns_checks)
EventsHandler._sluice_checks = staticmethod(events_checks)
SecretsManagerResponse._sluice_checks = staticmethod(secrets_checks)

import werkzeug.serving  # noqa: E402
from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

werkzeug.serving.BaseWSGIServer.request_queue_size = 4096


def remove_log_and_exit(*_):
    # The test binary's watchdog (or MotoServer's drop) ends this server with SIGTERM; the log goes with it.
    try:
        os.remove(LOG_PATH)
    except OSError:
        pass
    sys.exit(0)


signal.signal(signal.SIGTERM, remove_log_and_exit)
moto_app = DomainDispatcherApplication(create_backend_app)


def keep_raw_body(environ, start_response):
    length = environ.get("CONTENT_LENGTH")
    stream = environ["wsgi.input"]
    if length:
        raw = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):  # chunked: werkzeug ends the stream at the last chunk
        raw = stream.read()
    else:
        raw = b""
    environ["wsgi.input"] = io.BytesIO(raw)
    environ[RAW_BODY] = raw
    return moto_app(environ, start_response)


werkzeug.serving.run_simple(
    sys.argv[1],
    int(sys.argv[2]),
    keep_raw_body,
    threaded=False,
    request_handler=MotoRequestHandler,
)
