package ir

// ParameterType is a KFP parameter type.
type ParameterType string

// The parameter types of schemaVersion 2.1.0.
const (
	TypeString          ParameterType = "STRING"
	TypeInteger         ParameterType = "NUMBER_INTEGER"
	TypeDouble          ParameterType = "NUMBER_DOUBLE"
	TypeBoolean         ParameterType = "BOOLEAN"
	TypeList            ParameterType = "LIST"
	TypeStruct          ParameterType = "STRUCT"
	TypeTaskFinalStatus ParameterType = "TASK_FINAL_STATUS"
	TypeTaskConfig      ParameterType = "TASK_CONFIG"
)

// Valid reports whether t is a known parameter type.
func (t ParameterType) Valid() bool {
	switch t {
	case TypeString, TypeInteger, TypeDouble, TypeBoolean, TypeList, TypeStruct, TypeTaskFinalStatus, TypeTaskConfig:
		return true
	}
	return false
}
