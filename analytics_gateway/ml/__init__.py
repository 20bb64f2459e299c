"""Machine learning over metric series: anomaly detection, forecasting, evaluation."""
