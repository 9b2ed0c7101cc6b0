variable "environment_suffix" {
  type        = string
  description = "Suffix in every resource name, so several environments can share an account (e.g. dev, pr-123)."
  validation {
    condition     = can(regex("^[a-z0-9-]{1,20}$", var.environment_suffix))
    error_message = "environment_suffix must be 1-20 lowercase letters, digits or dashes."
  }
}

variable "primary_region" {
  type        = string
  description = "Region of the primary Aurora cluster."
  default     = "us-east-1"
}

variable "secondary_region" {
  type        = string
  description = "Region of the secondary Aurora cluster and of the failover trigger."
  default     = "us-west-2"
}

variable "primary_vpc_cidr" {
  type        = string
  description = "CIDR of the primary VPC."
  default     = "10.0.0.0/16"
}

variable "secondary_vpc_cidr" {
  type        = string
  description = "CIDR of the secondary VPC (must not overlap the primary's: they are peered)."
  default     = "10.1.0.0/16"
}

variable "engine_version" {
  type        = string
  description = "aurora-mysql engine version, 3.04 or later (AuroraGlobalDBRPOLag and switchover support)."
  default     = "8.0.mysql_aurora.3.05.2"
  validation {
    # The lag alarms and drdrill's lag readings use AuroraGlobalDBRPOLag,
    # which Aurora MySQL publishes from 3.04 on; an older engine would leave
    # every lag alarm in INSUFFICIENT_DATA.
    condition     = can(regex("^8\\.0\\.mysql_aurora\\.3\\.(0[4-9]|[1-9][0-9])\\.[0-9]+$", var.engine_version))
    error_message = "engine_version must be Aurora MySQL 3.04 or later (8.0.mysql_aurora.3.04.0 and up): the alarms use AuroraGlobalDBRPOLag, which older engines do not publish."
  }
}

variable "master_password_version" {
  type        = number
  description = "Bump to rotate the master password: the cluster's master_password_wo_version and the secret's secret_string_wo_version both take this one number, so they never disagree."
  default     = 1
}

variable "database_name" {
  type        = string
  description = "Initial database, where drdrill writes its canary rows."
  default     = "drdrill"
}

variable "master_username" {
  type        = string
  description = "Master user name; its password is generated and kept only in Secrets Manager."
  default     = "drdrill_admin"
}

variable "generate_master_password" {
  type        = bool
  description = "Generate the master password with Secrets Manager (true), or take it from the ephemeral master_password variable (false)."
  default     = true
}

variable "master_password" {
  type        = string
  description = "Master password when generate_master_password is false. Ephemeral: never written to plan or state."
  default     = null
  sensitive   = true
  ephemeral   = true
}

variable "min_capacity" {
  type        = number
  description = "Serverless v2 minimum capacity in ACU."
  default     = 0.5
}

variable "max_capacity" {
  type        = number
  description = "Serverless v2 maximum capacity in ACU."
  default     = 4
}

variable "lambda_dir" {
  type        = string
  description = "Directory with healthmonitor.zip and failovertrigger.zip, as `make lambda` builds them."
  default     = "../../build/lambda"
}

variable "failure_threshold" {
  type        = number
  description = "Consecutive failed health checks (one a minute) before the trigger fails over."
  default     = 3
}

variable "failover_dry_run" {
  type        = bool
  description = "When true the failover trigger decides and publishes but never calls RDS."
  default     = false
}

variable "replication_lag_threshold_ms" {
  type        = number
  description = "Replication-lag alarm threshold in milliseconds."
  default     = 500
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the functions' log groups."
  default     = 30
}

variable "skip_final_snapshot" {
  type        = bool
  description = "Skip the final snapshot on destroy (drill environments are torn down often)."
  default     = true
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the clusters from deletion (set true for long-lived stacks)."
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Extra tags on every resource."
  default     = {}
}
