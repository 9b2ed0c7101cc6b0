# SNS topics (encrypted), alarms, Route 53 health checks (following the
# region-health alarms) and a dashboard.

resource "aws_sns_topic" "primary" {
  provider          = aws.primary
  name              = "${local.name}-alerts"
  kms_master_key_id = aws_kms_key.primary.arn
}

resource "aws_sns_topic" "secondary" {
  provider          = aws.secondary
  name              = "${local.name}-alerts"
  kms_master_key_id = aws_kms_key.secondary.arn
}

# Replication lag above 500 ms. The metric exists only in whichever region
# is secondary now, so there is one alarm per region and one is always
# INSUFFICIENT_DATA (treated as not breaching).
resource "aws_cloudwatch_metric_alarm" "lag_primary" {
  provider            = aws.primary
  alarm_name          = "${local.name}-replication-lag-primary"
  alarm_description   = "Replication lag into ${var.primary_region} (when it is the secondary) above ${var.replication_lag_threshold_ms} ms"
  namespace           = "AWS/RDS"
  metric_name         = "AuroraGlobalDBRPOLag"
  dimensions          = { DBClusterIdentifier = aws_rds_cluster.primary.cluster_identifier }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = var.replication_lag_threshold_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.primary.arn]
  ok_actions          = [aws_sns_topic.primary.arn]
}

resource "aws_cloudwatch_metric_alarm" "lag_secondary" {
  provider            = aws.secondary
  alarm_name          = "${local.name}-replication-lag-secondary"
  alarm_description   = "Replication lag into ${var.secondary_region} above ${var.replication_lag_threshold_ms} ms"
  namespace           = "AWS/RDS"
  metric_name         = "AuroraGlobalDBRPOLag"
  dimensions          = { DBClusterIdentifier = aws_rds_cluster.secondary.cluster_identifier }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = var.replication_lag_threshold_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.secondary.arn]
  ok_actions          = [aws_sns_topic.secondary.arn]
}

resource "aws_cloudwatch_metric_alarm" "cpu_primary" {
  provider            = aws.primary
  alarm_name          = "${local.name}-cpu-primary"
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBClusterIdentifier = aws_rds_cluster.primary.cluster_identifier }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 2
  threshold           = 80
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = [aws_sns_topic.primary.arn]
}

resource "aws_cloudwatch_metric_alarm" "connections_primary" {
  provider            = aws.primary
  alarm_name          = "${local.name}-connections-primary"
  namespace           = "AWS/RDS"
  metric_name         = "DatabaseConnections"
  dimensions          = { DBClusterIdentifier = aws_rds_cluster.primary.cluster_identifier }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  threshold           = 500
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = [aws_sns_topic.primary.arn]
}

resource "aws_cloudwatch_metric_alarm" "trigger_errors" {
  provider            = aws.secondary
  alarm_name          = "${local.name}-failover-trigger-errors"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.trigger.function_name }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.secondary.arn]
}

resource "aws_cloudwatch_metric_alarm" "monitor_throttles" {
  provider            = aws.primary
  alarm_name          = "${local.name}-health-monitor-throttles"
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.monitor_primary.function_name }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.primary.arn]
}

# Region health from the monitors' RegionHealthy metric; missing data is
# breaching (a silent region is not a healthy one). Route 53 health checks
# follow these alarms.
resource "aws_cloudwatch_metric_alarm" "health_primary" {
  provider            = aws.primary
  alarm_name          = "${local.name}-region-health-primary"
  namespace           = "DRDrill"
  metric_name         = "RegionHealthy"
  dimensions          = { Region = var.primary_region }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = var.failure_threshold
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.primary.arn]
  ok_actions          = [aws_sns_topic.primary.arn]
}

resource "aws_cloudwatch_metric_alarm" "health_secondary" {
  provider            = aws.secondary
  alarm_name          = "${local.name}-region-health-secondary"
  namespace           = "DRDrill"
  metric_name         = "RegionHealthy"
  dimensions          = { Region = var.secondary_region }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = var.failure_threshold
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.secondary.arn]
  ok_actions          = [aws_sns_topic.secondary.arn]
}

# The database endpoints are private, so the health checks follow alarms.
resource "aws_route53_health_check" "primary" {
  provider                        = aws.primary
  type                            = "CLOUDWATCH_METRIC"
  cloudwatch_alarm_name           = aws_cloudwatch_metric_alarm.health_primary.alarm_name
  cloudwatch_alarm_region         = var.primary_region
  insufficient_data_health_status = "Unhealthy"
  tags                            = { Name = "${local.name}-primary" }
}

resource "aws_route53_health_check" "secondary" {
  provider                        = aws.primary
  type                            = "CLOUDWATCH_METRIC"
  cloudwatch_alarm_name           = aws_cloudwatch_metric_alarm.health_secondary.alarm_name
  cloudwatch_alarm_region         = var.secondary_region
  insufficient_data_health_status = "Unhealthy"
  tags                            = { Name = "${local.name}-secondary" }
}

# No failover records: the drill writes through the Aurora global writer
# endpoint, which follows the writer itself. Records steering a private
# name nothing reads — to the read-only secondary cluster when the
# primary's check fails — would only be something to get wrong. The health
# checks stay: the drill records their states beside its own measures.

resource "aws_cloudwatch_dashboard" "dr" {
  provider       = aws.primary
  dashboard_name = "${local.name}-dr"
  dashboard_body = jsonencode({
    widgets = [
      { type = "metric", x = 0, y = 0, width = 12, height = 6, properties = {
        title   = "Replication lag (ms)", region = var.secondary_region, stat = "Maximum", period = 60,
        metrics = [["AWS/RDS", "AuroraGlobalDBRPOLag", "DBClusterIdentifier", aws_rds_cluster.secondary.cluster_identifier]],
      annotations = { horizontal = [{ value = var.replication_lag_threshold_ms, label = "alarm" }] } } },
      { type = "metric", x = 12, y = 0, width = 12, height = 6, properties = {
        title = "Region health", region = var.primary_region, stat = "Minimum", period = 60,
      metrics = [["DRDrill", "RegionHealthy", "Region", var.primary_region], ["DRDrill", "RegionHealthy", "Region", var.secondary_region, { region = var.secondary_region }]] } },
      { type = "metric", x = 0, y = 6, width = 12, height = 6, properties = {
        title = "Primary CPU and connections", region = var.primary_region, period = 300,
      metrics = [["AWS/RDS", "CPUUtilization", "DBClusterIdentifier", aws_rds_cluster.primary.cluster_identifier], ["AWS/RDS", "DatabaseConnections", "DBClusterIdentifier", aws_rds_cluster.primary.cluster_identifier]] } },
      { type = "metric", x = 12, y = 6, width = 12, height = 6, properties = {
        title = "Failover trigger", region = var.secondary_region, stat = "Sum", period = 60,
      metrics = [["AWS/Lambda", "Invocations", "FunctionName", aws_lambda_function.trigger.function_name], ["AWS/Lambda", "Errors", "FunctionName", aws_lambda_function.trigger.function_name]] } },
    ]
  })
}
