"""Small state machines for the graph layout tests: a Parallel, a Map and a loop."""

from __future__ import annotations

from typing import Any

NESTED_DEFINITION: dict[str, Any] = {
    "StartAt": "List the stores",
    "States": {
        "List the stores": {"Type": "Pass", "Next": "Process every store"},
        "Process every store": {
            "Type": "Map",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Check the store file",
                "States": {
                    "Check the store file": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::lambda:invoke",
                        "Next": "Is the file there?",
                    },
                    "Is the file there?": {
                        "Type": "Choice",
                        "Choices": [
                            {"Variable": "$.found", "BooleanEquals": True, "Next": "Store done"}
                        ],
                        "Default": "Store missing",
                    },
                    "Store done": {"Type": "Succeed"},
                    "Store missing": {"Type": "Fail", "Error": "Store.Missing"},
                },
            },
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Report the failure"}],
            "Next": "Publish in parallel",
        },
        "Publish in parallel": {
            "Type": "Parallel",
            "Branches": [
                {
                    "StartAt": "Publish to SNS",
                    "States": {
                        "Publish to SNS": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::sns:publish",
                            "End": True,
                        }
                    },
                },
                {
                    "StartAt": "Write the audit row",
                    "States": {
                        "Write the audit row": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::dynamodb:putItem",
                            "Next": "Audit written",
                        },
                        "Audit written": {"Type": "Pass", "End": True},
                    },
                },
            ],
            "Next": "Done",
        },
        "Report the failure": {"Type": "Fail", "Error": "Stores.Failed"},
        "Done": {"Type": "Succeed"},
    },
}
