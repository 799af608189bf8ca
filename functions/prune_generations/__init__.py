"""The expiry of a date's superseded generations, run by the publish after it records the day."""
