//! Tests of the SVC against scikit-learn's answers in tests/reference/svc_*.h5.
