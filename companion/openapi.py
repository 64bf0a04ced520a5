"""The OpenAPI 3.1 document of the companion's API, served at /api/openapi.json."""

from __future__ import annotations

from typing import Any

from .zones import TIME_ZONE_SOURCES

_ENTITY_ID = {
    "name": "entity_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "maxLength": 256},
}
_TIME = {"type": "string", "format": "date-time"}
_NUM = {"type": ["number", "null"]}
_STR = {"type": ["string", "null"]}
_ERROR = {"$ref": "#/components/schemas/Error"}


def _q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, **_json(schema)}


# What every answer that mentions HA's time zone says about it. The companion has
# no zone of its own: a day is one of HA's days, in the zone HA reported.
_TIME_ZONE_PROPERTIES: dict[str, Any] = {
    "time_zone": {
        "type": ["string", "null"],
        "description": "Home Assistant's IANA time zone, which decides what a day is; "
        "null when the companion has never learnt it (it never reached Home Assistant "
        "and ENERGY_TRACKER_TIME_ZONE is unset). Never UTC in its place.",
    },
    "time_zone_known": {
        "type": "boolean",
        "description": "false when the zone was never learnt: answers made of days "
        "(daily totals, day and month statistics) are then refused with 409 "
        "time_zone_unknown; connect Home Assistant on the Settings page.",
    },
    "time_zone_source": {
        "enum": [*TIME_ZONE_SOURCES, None],
        "description": "home_assistant: HA answered this process; stored: the zone "
        "HA reported last, kept in MongoDB (HA is not answering now); environment: "
        "ENERGY_TRACKER_TIME_ZONE (HA was never reached); null: unknown.",
    },
}
_TIME_ZONE_REQUIRED = ["time_zone", "time_zone_known", "time_zone_source"]
_TIME_ZONE_UNKNOWN: dict[str, Any] = {
    "409": {
        "description": "time_zone_unknown: Home Assistant's time zone was never "
        "learnt, so no day can be computed (the answer is refused rather than given "
        "in another zone); connect Home Assistant on the Settings page",
        **_json({"$ref": "#/components/schemas/Error"}),
    }
}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "invalid input",
        401: "missing or wrong bearer token",
        403: "cross-origin write",
        404: "unknown entity or job",
        409: "Home Assistant not configured",
        413: "body too large",
        415: "body is not JSON",
        422: "the connection test failed: error.code says how (ha_dns_failed, "
        "ha_connection_refused, ha_tls_error, ha_connection_closed, ha_timeout, "
        "ha_not_home_assistant, ha_access_denied, ha_auth_failed, ha_unreachable, "
        "ha_check_failed), error.field which input to fix",
        502: "Home Assistant answered with an error",
        503: "a database or Home Assistant is unavailable",
    }
    return {str(code): {"description": text[code], **_json(_ERROR)} for code in codes}


_SYNC_RUN: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "kind": _STR,
        "started_at": _STR,
        "finished_at": _STR,
        "window_start": _STR,
        "window_end": _STR,
        "entity_count": {"type": ["integer", "null"]},
        "rows": {"type": ["integer", "null"]},
        "outcome": {"type": ["string", "null"], "description": "ok or failed"},
        "error": _STR,
    },
}

_JOB_PROPERTIES: dict[str, Any] = {
    "entity_ids": {"type": "array", "items": {"type": "string"}, "maxItems": 1000},
    "start_time": _TIME,
    "end_time": _TIME,
}
_JOB_BODY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "entity_ids": {"type": "array", "items": {"type": "string"}, "maxItems": 1000},
        "start_time": _TIME,
        "end_time": _TIME,
    },
}
_JOB_ACCEPTED = {
    "type": "object",
    "required": ["job_id", "status", "status_url"],
    "properties": {
        "job_id": {"type": "string"},
        "status": {"type": "string"},
        "status_url": {"type": "string"},
    },
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Energy Tracker companion API",
        "version": "1.0.0",
        "description": "Readings and statistics of Home Assistant energy sensors kept in QuestDB.",
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {
                                "type": "string",
                                "description": "stable, e.g. unknown_entity, "
                                "home_assistant_not_configured, time_zone_unknown",
                            },
                            "message": {"type": "string"},
                            "field": {
                                "enum": ["ha_url", "ha_token"],
                                "description": "the input to fix, when one is to "
                                "blame (Settings → Home Assistant)",
                            },
                        },
                    }
                },
            },
            "Statistic": {
                "type": "object",
                "required": ["entity_id", "start_time", "end_time", "period", "source"],
                "properties": {
                    "entity_id": {"type": "string"},
                    "start_time": _TIME,
                    "end_time": _TIME,
                    "state": _NUM,
                    "sum": _NUM,
                    "mean": _NUM,
                    "min": _NUM,
                    "max": _NUM,
                    "last_reset": _STR,
                    "period": {"enum": ["5minute", "hour", "day", "month"]},
                    "source": {"enum": ["statistics", "readings"]},
                },
            },
            "DailySummary": {
                "type": "object",
                "required": ["date", "total", "avg_power", "peak", "readings"],
                "properties": {
                    "date": {"type": "string", "format": "date"},
                    "start_time": _TIME,
                    "end_time": _TIME,
                    "hours": {"type": "number"},
                    "total": _NUM,
                    "avg_power": _NUM,
                    "peak": _NUM,
                    "peak_time": _STR,
                    "readings": {"type": "integer"},
                    "source": {"enum": ["statistics", "readings"]},
                },
            },
            "Reading": {
                "type": "object",
                "required": ["ts", "value"],
                "properties": {
                    "ts": _TIME,
                    "value": _NUM,
                    "unit": _STR,
                    "source": _STR,
                },
            },
            "Entity": {
                "type": "object",
                "required": ["entity_id", "friendly_name", "is_tracked", "is_active"],
                "properties": {
                    "entity_id": {"type": "string"},
                    "friendly_name": {"type": "string"},
                    "state": _NUM,
                    "last_value": _NUM,
                    "last_value_at": _STR,
                    "unit_of_measurement": _STR,
                    "device_class": _STR,
                    "state_class": _STR,
                    "is_tracked": {"type": "boolean"},
                    "is_active": {"type": "boolean"},
                    "first_seen": _STR,
                    "last_seen": _STR,
                },
            },
        },
    },
    "security": [{"bearer": []}, {}],
    "paths": {
        "/api/status": {
            "get": {
                "summary": "Health of HA, the databases, the forwarder and the jobs",
                "responses": {
                    "200": _ok(
                        {
                            "type": "object",
                            "required": ["time", *_TIME_ZONE_REQUIRED],
                            "properties": {
                                "time": _TIME,
                                **_TIME_ZONE_PROPERTIES,
                                "events_today": {
                                    "type": ["integer", "null"],
                                    "description": "readings since midnight in HA's "
                                    "time zone; null when QuestDB is down or the zone "
                                    "is unknown",
                                },
                            },
                        }
                    ),
                    **_errors(401),
                },
            }
        },
        "/api/sync-log": {
            "get": {
                "summary": "Recent reconciliation, backfill and recovery runs, newest first",
                "parameters": [
                    _q(
                        "limit",
                        {"type": "integer", "minimum": 1, "default": 50},
                        "how many runs (capped at 500)",
                    )
                ],
                "responses": {
                    "200": _ok(
                        {
                            "type": "object",
                            "required": ["limit", "runs"],
                            "properties": {
                                "limit": {"type": "integer"},
                                "runs": {"type": "array", "items": _SYNC_RUN},
                            },
                        }
                    ),
                    **_errors(400, 401, 503),
                },
            }
        },
        "/api/entities": {
            "get": {
                "summary": "Known entities",
                "parameters": [
                    _q("tracked", {"enum": ["true", "false"]}, "only (un)tracked ones")
                ],
                "responses": {
                    "200": _ok(
                        {
                            "type": "object",
                            "properties": {
                                "entities": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Entity"},
                                },
                                "count": {"type": "integer"},
                            },
                        }
                    ),
                    **_errors(400, 401, 503),
                },
            }
        },
        "/api/statistics/{entity_id}": {
            "get": {
                "summary": "Statistics of one entity (stored, else aggregated readings)",
                "parameters": [
                    _ENTITY_ID,
                    _q("start_time", _TIME, "default: end_time - 7 days"),
                    _q("end_time", _TIME, "default: now"),
                    _q(
                        "period",
                        {"enum": ["5minute", "hour", "day", "month"]},
                        "default: hour",
                    ),
                ],
                "responses": {
                    "200": _ok(
                        {
                            "type": "object",
                            "properties": {
                                "time_zone": {
                                    "type": ["string", "null"],
                                    "description": "HA's time zone, which day and month "
                                    "buckets follow; null for 5minute and hour, which "
                                    "follow none",
                                },
                                "time_zone_source": _TIME_ZONE_PROPERTIES[
                                    "time_zone_source"
                                ],
                                "data": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Statistic"},
                                },
                            },
                        }
                    ),
                    **_errors(400, 401, 404, 503),
                    **_TIME_ZONE_UNKNOWN,
                },
            }
        },
        "/api/statistics/{entity_id}/daily": {
            "get": {
                "summary": "Per local day in HA's time zone: consumption, average power, peak, readings",
                "parameters": [
                    _ENTITY_ID,
                    _q("start_time", _TIME, "default: end_time - 30 days"),
                    _q("end_time", _TIME, "default: now"),
                ],
                "responses": {
                    "200": _ok(
                        {
                            "type": "object",
                            "required": [*_TIME_ZONE_REQUIRED, "data"],
                            "properties": {
                                "time_zone": {
                                    "type": "string",
                                    "description": "HA's time zone: the days' zone",
                                },
                                "time_zone_known": {"const": True},
                                "time_zone_source": {"enum": list(TIME_ZONE_SOURCES)},
                                "data": {
                                    "type": "array",
                                    "items": {
                                        "$ref": "#/components/schemas/DailySummary"
                                    },
                                },
                            },
                        }
                    ),
                    **_errors(400, 401, 404, 503),
                    **_TIME_ZONE_UNKNOWN,
                },
            }
        },
        "/api/readings/{entity_id}": {
            "get": {
                "summary": "Raw readings, newest first",
                "parameters": [
                    _ENTITY_ID,
                    _q("since", _TIME, "default: until - 24 h"),
                    _q("until", _TIME, "default: now"),
                    _q(
                        "limit",
                        {"type": "integer", "minimum": 1},
                        "default 1000, capped at 100000",
                    ),
                    _q(
                        "format",
                        {"enum": ["objects", "columns"]},
                        "objects (default: readings[] with ISO times) or columns (ts in epoch ms, value, source)",
                    ),
                ],
                "responses": {
                    "200": _ok(
                        {
                            "type": "object",
                            "properties": {
                                "readings": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Reading"},
                                },
                                "count": {"type": "integer"},
                                "limit": {"type": "integer"},
                            },
                        }
                    ),
                    **_errors(400, 401, 404, 503),
                },
            }
        },
        "/api/statistics/sync": {
            "post": {
                "summary": "Start copying HA's statistics into QuestDB",
                "description": "An entity the companion has not discovered yet is "
                "looked up in Home Assistant (its state, else its statistics) and "
                "written as discovery does; 404 unknown_entity only when Home "
                "Assistant has neither, 503 when it cannot be asked.",
                "requestBody": {
                    "required": False,
                    **_json(
                        {
                            **_JOB_BODY,
                            "properties": {
                                **_JOB_PROPERTIES,
                                "period": {"enum": ["5minute", "hour", "day", "month"]},
                            },
                        }
                    ),
                },
                "responses": {
                    "202": _ok(_JOB_ACCEPTED, "job started"),
                    **_errors(400, 401, 403, 404, 409, 413, 415, 502, 503),
                },
            }
        },
        "/api/backfill": {
            "post": {
                "summary": "Start back-filling readings and statistics from HA",
                "description": "Entities not discovered yet are looked up in Home "
                "Assistant, as for /api/statistics/sync.",
                "requestBody": {"required": False, **_json(_JOB_BODY)},
                "responses": {
                    "202": _ok(_JOB_ACCEPTED, "job started"),
                    **_errors(400, 401, 403, 404, 409, 413, 415, 502, 503),
                },
            }
        },
        "/api/jobs/{job_id}": {
            "get": {
                "summary": "Progress (phase, done, total, rows) and result of a job",
                "parameters": [
                    {
                        "name": "job_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {"200": _ok({"type": "object"}), **_errors(401, 404, 503)},
            }
        },
        "/api/settings": {
            "get": {
                "summary": "Settings (never the token)",
                "responses": {
                    "200": _ok(
                        {
                            "type": "object",
                            "required": _TIME_ZONE_REQUIRED,
                            "properties": _TIME_ZONE_PROPERTIES,
                        }
                    ),
                    **_errors(401),
                },
            }
        },
        "/api/settings/home-assistant": {
            "post": {
                "summary": "Test and store HA's URL and token",
                "description": "Connects to HA's WebSocket API and logs in with the "
                "token (at most ENERGY_TRACKER_HA_CHECK_TIMEOUT seconds, 10 by "
                "default); stores both only when that works. Invalid input is a 400 "
                "(bad_url, bad_token), a failed test a 422; both name the field.",
                "requestBody": {
                    "required": True,
                    **_json(
                        {
                            "type": "object",
                            "required": ["url"],
                            "additionalProperties": False,
                            "properties": {
                                "url": {
                                    "type": "string",
                                    "description": "http(s)://host[:port]",
                                },
                                "token": {
                                    "type": "string",
                                    "description": "a long-lived access token; "
                                    "left out or empty: keep the saved one",
                                },
                            },
                        }
                    ),
                },
                "responses": {
                    "200": _ok({"type": "object"}),
                    **_errors(400, 401, 403, 413, 415, 422, 503),
                },
            }
        },
        "/api/settings/discover-entities": {
            "post": {
                "summary": "Discover energy-related entities in HA (new ones untracked), "
                "each with its current state",
                "responses": {
                    "200": _ok({"type": "object"}),
                    **_errors(400, 401, 403, 409, 413, 415, 503),
                },
            }
        },
        "/api/settings/tracked-entities": {
            "post": {
                "summary": "Track exactly the given entities",
                "requestBody": {
                    "required": True,
                    **_json(
                        {
                            "type": "object",
                            "required": ["entity_ids"],
                            "additionalProperties": False,
                            "properties": {
                                "entity_ids": {
                                    "type": "array",
                                    "items": {"type": "string"},
                                    "maxItems": 1000,
                                }
                            },
                        }
                    ),
                },
                "responses": {
                    "200": _ok({"type": "object"}),
                    **_errors(400, 401, 403, 404, 413, 415, 503),
                },
            }
        },
    },
}
