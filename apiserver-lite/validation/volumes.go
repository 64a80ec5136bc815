package validation

import (
	"path"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var nameIsDNSSubdomain = apimachineryvalidation.NameIsDNSSubdomain

// validateVolumes validates pod volumes and returns the valid ones by name.
func validateVolumes(volumes []corev1.Volume, fldPath *field.Path) (map[string]corev1.VolumeSource, field.ErrorList) {
	var allErrs field.ErrorList
	allNames := sets.New[string]()
	vols := make(map[string]corev1.VolumeSource)
	for i, vol := range volumes {
		idxPath := fldPath.Index(i)
		namePath := idxPath.Child("name")
		el := validateVolumeSource(&vol.VolumeSource, idxPath)
		if len(vol.Name) == 0 {
			el = append(el, field.Required(namePath, ""))
		} else {
			el = append(el, validateDNS1123Label(vol.Name, namePath)...)
		}
		if allNames.Has(vol.Name) {
			el = append(el, field.Duplicate(namePath, vol.Name))
		}
		if len(el) == 0 {
			allNames.Insert(vol.Name)
			vols[vol.Name] = vol.VolumeSource
		} else {
			allErrs = append(allErrs, el...)
		}
	}
	return vols, allErrs
}

// volumeSourceFields lists the v1 volume source fields in upstream's validation order.
func volumeSourceFields(s *corev1.VolumeSource) []struct {
	name string
	set  bool
} {
	return []struct {
		name string
		set  bool
	}{
		{"emptyDir", s.EmptyDir != nil}, {"hostPath", s.HostPath != nil}, {"gitRepo", s.GitRepo != nil},
		{"gcePersistentDisk", s.GCEPersistentDisk != nil}, {"awsElasticBlockStore", s.AWSElasticBlockStore != nil},
		{"secret", s.Secret != nil}, {"nfs", s.NFS != nil}, {"iscsi", s.ISCSI != nil}, {"glusterfs", s.Glusterfs != nil},
		{"flocker", s.Flocker != nil}, {"persistentVolumeClaim", s.PersistentVolumeClaim != nil}, {"rbd", s.RBD != nil},
		{"cinder", s.Cinder != nil}, {"cephfs", s.CephFS != nil}, {"downwardAPI", s.DownwardAPI != nil},
		{"fc", s.FC != nil}, {"flexVolume", s.FlexVolume != nil}, {"configMap", s.ConfigMap != nil},
		{"azureFile", s.AzureFile != nil}, {"vsphereVolume", s.VsphereVolume != nil}, {"quobyte", s.Quobyte != nil},
		{"azureDisk", s.AzureDisk != nil}, {"photonPersistentDisk", s.PhotonPersistentDisk != nil},
		{"projected", s.Projected != nil}, {"portworxVolume", s.PortworxVolume != nil}, {"scaleIO", s.ScaleIO != nil},
		{"storageos", s.StorageOS != nil}, {"csi", s.CSI != nil}, {"ephemeral", s.Ephemeral != nil}, {"image", s.Image != nil},
	}
}

func validateVolumeSource(source *corev1.VolumeSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	n := 0
	for _, f := range volumeSourceFields(source) {
		if !f.set {
			continue
		}
		if n > 0 {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child(f.name), "may not specify more than 1 volume type"))
			continue
		}
		n++
	}
	if n == 0 {
		return append(allErrs, field.Required(fldPath, "must specify a volume type"))
	}
	switch {
	case source.EmptyDir != nil:
		if sl := source.EmptyDir.SizeLimit; sl != nil && sl.Cmp(resource.Quantity{}) < 0 {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("emptyDir").Child("sizeLimit"), "SizeLimit field must be a valid resource quantity"))
		}
	case source.HostPath != nil:
		allErrs = append(allErrs, validateHostPathVolumeSource(source.HostPath, fldPath.Child("hostPath"))...)
	case source.Secret != nil:
		p := fldPath.Child("secret")
		if len(source.Secret.SecretName) == 0 {
			allErrs = append(allErrs, field.Required(p.Child("secretName"), ""))
		}
		allErrs = append(allErrs, validateMode(source.Secret.DefaultMode, p.Child("defaultMode"))...)
		allErrs = append(allErrs, validateKeyToPaths(source.Secret.Items, p.Child("items"))...)
	case source.ConfigMap != nil:
		p := fldPath.Child("configMap")
		if len(source.ConfigMap.Name) == 0 {
			allErrs = append(allErrs, field.Required(p.Child("name"), ""))
		} else {
			allErrs = append(allErrs, validateNameWith(nameIsDNSSubdomain, source.ConfigMap.Name, p.Child("name"))...)
		}
		allErrs = append(allErrs, validateMode(source.ConfigMap.DefaultMode, p.Child("defaultMode"))...)
		allErrs = append(allErrs, validateKeyToPaths(source.ConfigMap.Items, p.Child("items"))...)
	case source.PersistentVolumeClaim != nil:
		if len(source.PersistentVolumeClaim.ClaimName) == 0 {
			allErrs = append(allErrs, field.Required(fldPath.Child("persistentVolumeClaim", "claimName"), ""))
		}
	case source.DownwardAPI != nil:
		p := fldPath.Child("downwardAPI")
		allErrs = append(allErrs, validateMode(source.DownwardAPI.DefaultMode, p.Child("defaultMode"))...)
		for i, f := range source.DownwardAPI.Items {
			allErrs = append(allErrs, validateDownwardAPIFile(f, p.Child("items").Index(i))...)
		}
	case source.Projected != nil:
		p := fldPath.Child("projected")
		allErrs = append(allErrs, validateMode(source.Projected.DefaultMode, p.Child("defaultMode"))...)
		for i, s := range source.Projected.Sources {
			sp := p.Child("sources").Index(i)
			if s.Secret != nil {
				allErrs = append(allErrs, validateKeyToPaths(s.Secret.Items, sp.Child("secret", "items"))...)
			}
			if s.ConfigMap != nil {
				allErrs = append(allErrs, validateKeyToPaths(s.ConfigMap.Items, sp.Child("configMap", "items"))...)
			}
			if s.DownwardAPI != nil {
				for j, f := range s.DownwardAPI.Items {
					allErrs = append(allErrs, validateDownwardAPIFile(f, sp.Child("downwardAPI", "items").Index(j))...)
				}
			}
			if t := s.ServiceAccountToken; t != nil {
				tp := sp.Child("serviceAccountToken")
				if t.ExpirationSeconds != nil {
					if *t.ExpirationSeconds < 10*60 {
						allErrs = append(allErrs, field.Invalid(tp.Child("expirationSeconds"), *t.ExpirationSeconds, "may not specify a duration less than 10 minutes"))
					}
					if *t.ExpirationSeconds > 1<<32 {
						allErrs = append(allErrs, field.Invalid(tp.Child("expirationSeconds"), *t.ExpirationSeconds, "may not specify a duration larger than 2^32 seconds"))
					}
				}
				if t.Path == "" {
					allErrs = append(allErrs, field.Required(tp.Child("path"), ""))
				}
			}
		}
	}
	return allErrs
}

var supportedHostPathTypes = sets.New(corev1.HostPathUnset, corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory,
	corev1.HostPathFileOrCreate, corev1.HostPathFile, corev1.HostPathSocket, corev1.HostPathCharDev, corev1.HostPathBlockDev)

func validateHostPathVolumeSource(hp *corev1.HostPathVolumeSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(hp.Path) == 0 {
		return append(allErrs, field.Required(fldPath.Child("path"), ""))
	}
	allErrs = append(allErrs, validatePathNoBacksteps(hp.Path, fldPath.Child("path"))...)
	if hp.Type != nil && !supportedHostPathTypes.Has(*hp.Type) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), *hp.Type, sets.List(supportedHostPathTypes)))
	}
	return allErrs
}

func validateMode(mode *int32, fldPath *field.Path) field.ErrorList {
	if mode != nil && (*mode > 0777 || *mode < 0) {
		return field.ErrorList{field.Invalid(fldPath, *mode, fileModeErrorMsg)}
	}
	return nil
}

func validateKeyToPaths(items []corev1.KeyToPath, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, kp := range items {
		p := fldPath.Index(i)
		if len(kp.Key) == 0 {
			allErrs = append(allErrs, field.Required(p.Child("key"), ""))
		}
		if len(kp.Path) == 0 {
			allErrs = append(allErrs, field.Required(p.Child("path"), ""))
		}
		allErrs = append(allErrs, validateLocalNonReservedPath(kp.Path, p.Child("path"))...)
		allErrs = append(allErrs, validateMode(kp.Mode, p.Child("mode"))...)
	}
	return allErrs
}

func validateDownwardAPIFile(f corev1.DownwardAPIVolumeFile, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(f.Path) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("path"), ""))
	}
	allErrs = append(allErrs, validateLocalNonReservedPath(f.Path, fldPath.Child("path"))...)
	if f.FieldRef != nil {
		exprs := sets.New("metadata.name", "metadata.namespace", "metadata.uid", "metadata.annotations", "metadata.labels")
		allErrs = append(allErrs, validateObjectFieldSelector(f.FieldRef, exprs, fldPath.Child("fieldRef"))...)
		if f.ResourceFieldRef != nil {
			allErrs = append(allErrs, field.Invalid(fldPath, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		}
	} else if f.ResourceFieldRef != nil && len(f.ResourceFieldRef.ContainerName) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("resourceFieldRef", "containerName"), ""))
	} else if f.ResourceFieldRef == nil {
		allErrs = append(allErrs, field.Required(fldPath, "one of fieldRef and resourceFieldRef is required"))
	}
	return append(allErrs, validateMode(f.Mode, fldPath.Child("mode"))...)
}

// validatePathNoBacksteps makes sure the targetPath does not have any `..` path elements.
func validatePathNoBacksteps(targetPath string, fldPath *field.Path) field.ErrorList {
	parts := strings.Split(filepath.ToSlash(targetPath), "/")
	for _, item := range parts {
		if item == ".." {
			return field.ErrorList{field.Invalid(fldPath, targetPath, "must not contain '..'")}
		}
	}
	return nil
}

// validateLocalDescendingPath makes sure the path is relative and has no backsteps.
func validateLocalDescendingPath(targetPath string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if path.IsAbs(targetPath) {
		allErrs = append(allErrs, field.Invalid(fldPath, targetPath, "must be a relative path"))
	}
	return append(allErrs, validatePathNoBacksteps(targetPath, fldPath)...)
}

// validateLocalNonReservedPath also forbids paths starting with `..`.
func validateLocalNonReservedPath(targetPath string, fldPath *field.Path) field.ErrorList {
	allErrs := validateLocalDescendingPath(targetPath, fldPath)
	if strings.HasPrefix(targetPath, "..") && !strings.HasPrefix(targetPath, "../") {
		allErrs = append(allErrs, field.Invalid(fldPath, targetPath, "must not start with '..'"))
	}
	return allErrs
}

func validateVolumeMounts(mounts []corev1.VolumeMount, volumes map[string]corev1.VolumeSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	mountpoints := sets.New[string]()
	for i, mnt := range mounts {
		idxPath := fldPath.Index(i)
		if len(mnt.Name) == 0 {
			allErrs = append(allErrs, field.Required(idxPath.Child("name"), ""))
		}
		if _, ok := volumes[mnt.Name]; !ok {
			allErrs = append(allErrs, field.NotFound(idxPath.Child("name"), mnt.Name))
		}
		if len(mnt.MountPath) == 0 {
			allErrs = append(allErrs, field.Required(idxPath.Child("mountPath"), ""))
		}
		if mountpoints.Has(mnt.MountPath) {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("mountPath"), mnt.MountPath, "must be unique"))
		}
		mountpoints.Insert(mnt.MountPath)
		if len(mnt.SubPath) > 0 {
			allErrs = append(allErrs, validateLocalDescendingPath(mnt.SubPath, fldPath.Child("subPath"))...)
		}
		if len(mnt.SubPathExpr) > 0 {
			if len(mnt.SubPath) > 0 {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("subPathExpr"), mnt.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
			}
			allErrs = append(allErrs, validateLocalDescendingPath(mnt.SubPathExpr, fldPath.Child("subPathExpr"))...)
		}
	}
	return allErrs
}
