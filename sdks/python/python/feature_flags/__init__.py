"""Python SDK of the feature flag service.

``FeatureFlagClient`` follows the environment's rules over the service's
stream and evaluates locally, with the service's own engine compiled in
(``feature_flags._native``): lookups never wait on the network and never
raise into the application.
"""

from .client import EnvironmentMismatch, EvaluationDetails, FeatureFlagClient

__all__ = ["EnvironmentMismatch", "EvaluationDetails", "FeatureFlagClient"]
