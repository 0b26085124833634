// Package nabdata names the 13 NAB series (MIT licence) the project ships
// under testdata/nab and publishes its comparison on (docs/PROTOCOL.md):
// the default data of `perfpredict train`, and the series the tools and
// tests that reproduce its figures read.
package nabdata

// Series returns the 13 files, relative to testdata/nab, in the order
// `perfpredict crossval --folds K` deals them into folds (series i to fold
// i mod K). Each call returns a new slice.
func Series() []string {
	return []string{
		"realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv",
		"realAWSCloudwatch/ec2_cpu_utilization_53ea38.csv",
		"realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv",
		"realAWSCloudwatch/ec2_cpu_utilization_77c1ca.csv",
		"realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv",
		"realAWSCloudwatch/ec2_cpu_utilization_fe7f93.csv",
		"realAWSCloudwatch/ec2_disk_write_bytes_c0d644.csv",
		"realAWSCloudwatch/ec2_network_in_257a54.csv",
		"realAWSCloudwatch/elb_request_count_8c0756.csv",
		"realAWSCloudwatch/rds_cpu_utilization_cc0c53.csv",
		"realKnownCause/cpu_utilization_asg_misconfiguration.csv",
		"realKnownCause/ec2_request_latency_system_failure.csv",
		"realKnownCause/machine_temperature_system_failure.csv",
	}
}
