package step

// Environment variables through which a step's pod hands the launcher its
// object-store settings. The launcher removes every KFPARGO_ variable before
// starting the user's command, so credentials do not leak into user code.
const (
	EnvPrefix      = "KFPARGO_"
	EnvS3Endpoint  = "KFPARGO_S3_ENDPOINT"
	EnvS3AccessKey = "KFPARGO_S3_ACCESS_KEY"
	EnvS3SecretKey = "KFPARGO_S3_SECRET_KEY"
	EnvS3Insecure  = "KFPARGO_S3_INSECURE"
	EnvS3Region    = "KFPARGO_S3_REGION"
)

// Keys of the Secret those variables come from.
const (
	SecretKeyEndpoint  = "endpoint"
	SecretKeyAccessKey = "accessKey"
	SecretKeySecretKey = "secretKey"
	SecretKeyInsecure  = "insecure"
	SecretKeyRegion    = "region"
)

// AbsentValue stands for an optional input that the task did not bind and
// that has no default: Argo parameters always carry a string, so absence
// needs a value no pipeline would use.
const AbsentValue = "__kfpargo_absent__"
